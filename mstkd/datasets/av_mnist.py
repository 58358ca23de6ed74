"""AV-MNIST in the MultiBench release layout (the files MST-Distill reads).

Image = MNIST digits with 75% of their PCA energy removed; audio = 112x112
spectrograms of spoken digits (MultiBench names FSDD, the paper TIDIGITS)
mixed with ESC-50 noise.
Check a download with ``tools/dataset_converters/check_av_mnist.py``.
"""
import functools
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from mstkd.registry import DATASETS
from mstkd.utils.errors import UserInputError
from .file_checks import check_labels, layout_hint, require_dir, require_files
from .multimodal_dataset import MultiModalClsDataset
from .normalization import minmax_item, minmax_per_sample
from .npy_io import gather_npy_rows, npy_info
from .sources import LazySource, MemmapSource

LAYOUT = """\
avmnist/                      <- data_root
  image/train_data.npy        [60000, 784]       MNIST, 75% PCA energy removed
  image/test_data.npy         [10000, 784]
  audio/train_data.npy        [60000, 112, 112]  spectrograms
  audio/test_data.npy         [10000, 112, 112]
  train_labels.npy            [60000]  ints 0..9
  test_labels.npy             [10000]"""

#: The conv-ready shape served per item, and the per-sample layout of each
#: modality in the release files.
SHAPES = dict(image=(1, 28, 28), audio=(1, 112, 112))
EXPECTED = dict(image='784', audio='112, 112')
PARTS = ('train', 'test')


def av_mnist_files(data_root: str) -> Dict[str, Dict[str, str]]:
    """``{part: {'image'|'audio'|'labels': path}}`` for part train/test."""
    return {
        part:
        dict(image=osp.join(data_root, 'image', f'{part}_data.npy'),
             audio=osp.join(data_root, 'audio', f'{part}_data.npy'),
             labels=osp.join(data_root, f'{part}_labels.npy'))
        for part in PARTS
    }


def inspect_av_mnist(
    data_root: str,
    modalities: Sequence[str] = ('image', 'audio'),
    counts: Optional[Dict[str,
                          int]] = None) -> Tuple[List[str], Dict[str, dict]]:
    """Check the AV-MNIST files without loading the data arrays.

    Checks that every file exists and is a ``.npy`` array of numbers, that
    image rows hold 784 values and audio rows 112x112, that the sample counts
    of a part agree (and equal ``counts`` when given), and that the labels are
    integers in 0..9.

    Args:
        data_root (str): The ``avmnist`` folder.
        modalities (Sequence[str]): The modalities to check.
        counts (dict, optional): Expected samples per part, e.g.
            ``dict(train=60000, test=10000)``.

    Returns:
        tuple: ``(problems, report)``: a list of messages (empty when all is
        well) and, per part, the shapes, dtypes and labels found
        (``report[part]['labels']`` has ``shape``, ``class_counts`` and the
        int64 ``values``).
    """
    problems: List[str] = []
    report: Dict[str, dict] = {}
    files = av_mnist_files(data_root)
    for part in PARTS:
        info = report.setdefault(part, {})
        labels, label_path = None, files[part]['labels']
        try:
            npy_info(label_path)
            labels = check_labels(np.load(label_path, allow_pickle=False), 10,
                                  label_path)
            info['labels'] = dict(shape=[len(labels)],
                                  class_counts=np.bincount(
                                      labels, minlength=10).tolist(),
                                  values=labels)
        except UserInputError as err:
            problems.append(str(err))
        if labels is not None and counts and len(labels) != counts[part]:
            problems.append(f'{label_path}: {len(labels)} {part} labels, '
                            f'expected {counts[part]}.')
        for m in modalities:
            path = files[part][m]
            try:
                shape, dtype = npy_info(path)
            except UserInputError as err:
                problems.append(str(err))
                continue
            info[m] = dict(shape=list(shape), dtype=str(dtype))
            per_sample = int(np.prod(SHAPES[m]))
            if len(shape) < 2 or int(np.prod(shape[1:])) != per_sample:
                problems.append(
                    f'{path}: {m} data has shape {list(shape)}, expected '
                    f'[N, {EXPECTED[m]}] ({per_sample} values per sample).')
            if dtype.kind not in 'fiu':
                problems.append(f'{path}: {m} data has dtype {dtype}, '
                                'expected numbers (float or int).')
            if labels is not None and shape and shape[0] != len(labels):
                problems.append(f'{path}: {shape[0]} {m} samples but '
                                f'{len(labels)} labels in {label_path}.')
    return problems, report


@DATASETS.register_module()
class AVMNISTDataset(MultiModalClsDataset):
    """AV-MNIST: image 1x28x28 and audio 1x112x112, 10 classes.

    The release's train (60,000) and test (10,000) files are concatenated
    (70,000 samples, train first) before the protocol split; both modalities
    are min-max normalised per sample (as the reference release does; a
    constant sample becomes zeros instead of NaN).

    Eager (default): the split's rows are read from the files chunk by chunk,
    normalised in float32 and kept in memory (70,000 samples = 3.7 GB for
    the three splits together; no whole-set or float64 temporaries). Lazy
    (``lazy=True``): every item is read from a memory map and normalised
    when it is served (same numbers, nearly no memory).

    Args:
        data_root (str): The ``avmnist`` folder itself (see :data:`LAYOUT`).
        lazy (bool): Serve items from memory maps. Defaults to False.
        chunk_rows (int): Rows read at a time when loading eagerly.
        **kwargs: ``split``, ``seed`` (the run seed = the split group),
            ``modalities`` (a subset of ('image', 'audio')), ``indices_file``
            (``metadata/AV-MNIST_indices.csv``), ``ratios`` and ``metainfo``
            of :class:`MultiModalClsDataset`.
    """

    METAINFO = dict(classes=tuple(str(i) for i in range(10)),
                    modalities=('image', 'audio'))

    def __init__(self,
                 data_root: str,
                 lazy: bool = False,
                 chunk_rows: int = 2048,
                 **kwargs):
        self.data_root = data_root
        self.lazy = lazy
        self.chunk_rows = chunk_rows
        super().__init__(**kwargs)

    def load_modalities(self):
        require_dir(self.data_root, LAYOUT, 'AV-MNIST folder')
        files = av_mnist_files(self.data_root)
        needed = [
            files[p][k] for p in PARTS
            for k in ('labels', ) + tuple(self.modalities)
        ]
        require_files(
            needed, LAYOUT, 'AV-MNIST files',
            "The files come from MultiBench's AV-MNIST release; check a "
            'download with tools/dataset_converters/check_av_mnist.py '
            'DATA_ROOT.')
        problems, report = inspect_av_mnist(self.data_root, self.modalities)
        if problems:
            raise UserInputError('Malformed AV-MNIST data:\n  ' +
                                 '\n  '.join(problems) + layout_hint(LAYOUT))
        labels = [report[p]['labels']['values'] for p in PARTS]
        counts = [len(lab) for lab in labels]
        labels = np.concatenate(labels)
        self._files = files
        self._counts = counts
        if self.lazy:
            data = {
                m: _ConcatMemmap([files[p][m] for p in PARTS], SHAPES[m],
                                 what=m)
                for m in self.modalities
            }
        else:
            data = {m: None for m in self.modalities}  # read in select()
        return data, labels

    def select(self, data, labels, indices):
        if self.lazy:
            return super().select(data, labels, indices)
        out = {}
        bounds = np.cumsum([0] + self._counts)
        for m in self.modalities:
            tensor = torch.empty((len(indices), ) + SHAPES[m],
                                 dtype=torch.float32)
            for k, part in enumerate(PARTS):
                mask = (indices >= bounds[k]) & (indices < bounds[k + 1])
                if not mask.any():
                    continue
                pos = np.flatnonzero(mask)
                gather_npy_rows(self._files[part][m],
                                indices[pos] - bounds[k],
                                tensor,
                                minmax_per_sample,
                                self.chunk_rows,
                                positions=pos,
                                what=m)
            out[m] = tensor
        return out


def _minmax_reshaped(row: np.ndarray, shape: tuple) -> torch.Tensor:
    return minmax_item(row).reshape(shape)


class _ConcatMemmap(LazySource):
    """Rows of several ``.npy`` files, concatenated: one
    :class:`MemmapSource` per file, each row min-max normalised per item and
    reshaped to ``shape``; with ``what`` (the modality) each row served is
    checked for NaN/Inf."""

    def __init__(self, paths: List[str], shape: tuple,
                 what: Optional[str] = None):
        self.shape = tuple(shape)
        transform = functools.partial(_minmax_reshaped, shape=self.shape)
        self.parts = [MemmapSource(p, transform, what) for p in paths]

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def load(self, index: int) -> torch.Tensor:
        for part in self.parts:
            if index < len(part):
                return part.load(index)
            index -= len(part)
        raise IndexError(index)
