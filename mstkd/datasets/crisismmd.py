"""CrisisMMD-V2 (humanitarian task, 8 classes) in the MST-Distill release
layout: pre-extracted ResNet-50 image and BERTweet text features.
"""
import os.path as osp
import pickle

import numpy as np
import torch

from mstkd.registry import DATASETS
from mstkd.utils.compat.safe_loading import (NUMERIC_DTYPES,
                                             numpy_array_globals)
from mstkd.utils.errors import DataNotFoundError, UserInputError
from .file_checks import check_finite, check_labels, require_dir
from .multimodal_dataset import MultiModalClsDataset

DATA_FILE = 'CMMD_data.pth'
DIMS = dict(image=2048, text=768)
CLASSES = ('not_humanitarian', 'affected_individuals',
           'infrastructure_and_utility_damage', 'injured_or_dead_people',
           'missing_or_found_people', 'rescue_volunteering_or_donation_effort',
           'vehicle_damage', 'other_relevant_information')

LAYOUT = f"""\
CMMD-V2/                      <- data_root
  {DATA_FILE}              torch.save((image_features [16058, 2048],
                                           text_features [16058, 768],
                                           labels [16058] ints 0..7))"""


def numpy_arrays_allowed():
    """Context in which a weights-only ``torch.load`` may rebuild numpy
    arrays of plain numbers.

    Only the entries not allowed yet are added: ``safe_globals()`` removes
    its entries on exit, which would otherwise drop the process-wide
    allowlist of :mod:`mstkd.utils.compat.safe_loading` (checkpoint
    loading). The globals are those of
    :func:`~mstkd.utils.compat.safe_loading.numpy_array_globals` for every
    numeric dtype (no object dtype: that would unpickle arbitrary objects).
    """
    allowed = set(torch.serialization.get_safe_globals())
    return torch.serialization.safe_globals([
        g for g in numpy_array_globals(NUMERIC_DTYPES) if g not in allowed
    ])


def load_cmmd_file(path: str) -> tuple:
    """Load ``CMMD_data.pth`` safely (``weights_only=True``).

    Tensors load as they are; numpy arrays of numbers (what the release's
    preprocessing saves) are allowed for this one load only, through
    ``torch.serialization.safe_globals``. Anything else (e.g. pickled
    classes) is refused without running it.

    Args:
        path (str): The ``.pth`` file.

    Returns:
        tuple: ``(image [N, 2048], text [N, 768], labels [N])`` as float32,
        float32 and int64 tensors.
    """
    if not osp.isfile(path):
        raise DataNotFoundError(f'CrisisMMD-V2 file not found: {path}'
                                f'\nExpected layout:\n{LAYOUT}')
    try:
        with numpy_arrays_allowed():
            obj = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        detail = next((line.strip() for line in str(err).splitlines()
                       if 'GLOBAL' in line or 'Unsupported' in line),
                      str(err).splitlines()[0] if str(err) else '')
        raise UserInputError(
            f'Refused to load {path}: it holds objects other than tensors or '
            f'numpy arrays of numbers ({detail}). Re-save it as a tuple of '
            'tensors: torch.save(tuple(torch.as_tensor(x) for x in data), '
            f'PATH).\nExpected layout:\n{LAYOUT}') from err
    except (RuntimeError, EOFError, OSError) as err:
        raise UserInputError(f'{path} is not a readable torch file ({err}).'
                             f'\nExpected layout:\n{LAYOUT}') from err
    if not isinstance(obj, (tuple, list)) or len(obj) != 3:
        raise UserInputError(
            f'{path} holds a {type(obj).__name__}'
            f'{f" of length {len(obj)}" if hasattr(obj, "__len__") else ""}'
            ', expected a tuple (image_features, text_features, labels).'
            f'\nExpected layout:\n{LAYOUT}')
    arrays = []
    for name, value in zip(('image_features', 'text_features', 'labels'), obj):
        if isinstance(value, torch.Tensor):
            value = value.numpy()
        value = np.asarray(value)
        if value.dtype.kind not in 'fiub':
            raise UserInputError(f'{path}: {name} has dtype {value.dtype}, '
                                 f'expected numbers.\nExpected layout:\n'
                                 f'{LAYOUT}')
        arrays.append(value)
    image, text, labels = arrays
    labels = check_labels(labels, len(CLASSES), f'{path} (labels)', LAYOUT)
    n = len(labels)
    for name, value, dim in (('image_features', image, DIMS['image']),
                             ('text_features', text, DIMS['text'])):
        if value.shape != (n, dim):
            raise UserInputError(
                f'{path}: {name} has shape {list(value.shape)}, expected '
                f'[{n}, {dim}] ({n} labels).\nExpected layout:\n{LAYOUT}')
        check_finite(value, path, name)
    return (torch.from_numpy(image.astype(np.float32, copy=False)),
            torch.from_numpy(text.astype(np.float32, copy=False)),
            torch.from_numpy(labels))


@DATASETS.register_module()
class CrisisMMDDataset(MultiModalClsDataset):
    """CrisisMMD-V2: image features 2048-d and text features 768-d,
    8 humanitarian classes.

    Image features are ResNet-50 (ImageNet) pooled outputs, text features the
    BERTweet-base pooler output; the release applies no normalisation and
    neither does this class. The set (16,058 x 2,816 float32 = 180 MB) is
    kept in memory.

    Args:
        data_root (str): The ``CMMD-V2`` folder itself.
        **kwargs: ``split``, ``seed`` (the run seed = the split group),
            ``modalities`` (a subset of ('image', 'text')), ``indices_file``
            (``metadata/CMMD-V2_indices.csv``), ``ratios`` and ``metainfo``
            of :class:`MultiModalClsDataset`.
    """

    METAINFO = dict(classes=CLASSES, modalities=('image', 'text'))

    def __init__(self, data_root: str, **kwargs):
        self.data_root = data_root
        super().__init__(**kwargs)

    def load_modalities(self):
        require_dir(self.data_root, LAYOUT, 'CrisisMMD-V2 folder')
        image, text, labels = load_cmmd_file(
            osp.join(self.data_root, DATA_FILE))
        data = dict(image=image, text=text)
        return {m: data[m] for m in self.modalities}, labels.numpy()
