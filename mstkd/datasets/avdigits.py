"""AV-Digits: the embedded default data, a miniature AV-MNIST built offline.

Images are the 5,000 handwritten digits of OpenCV's ``digits.png`` (padded to
28x28, 75% of the PCA energy removed, as AV-MNIST does); audio are spoken
digits synthesised with espeak-ng and flite, mixed with noise. Provenance,
licences and the regeneration command: ``mstkd/datasets/data/avdigits/README.md``.

The image split follows the benchmark protocol (permutation group = run seed,
60/20/20). Every image is then paired with a clip of the same digit drawn,
with the run seed, from the clip pool of its split. Clip pools are disjoint
and the test pool's voices are never heard in training, so an audio model
cannot score by memorising clips.
"""
import os.path as osp
import zipfile
from typing import Dict, Optional

import numpy as np
import torch

from mstkd.registry import DATASETS
from mstkd.utils.errors import DataNotFoundError, UserInputError
from .audio import log_mel_spectrogram
from .file_checks import check_finite, check_labels
from .multimodal_dataset import MultiModalClsDataset
from .normalization import minmax_per_sample

DEFAULT_FILE = osp.join(osp.dirname(__file__), 'data', 'avdigits',
                        'avdigits.npz')
POOLS = dict(train=0, val=1, test=2)
KEYS = ('images', 'labels', 'clips', 'clip_labels', 'clip_pool',
        'sample_rate')


def load_avdigits_file(path: str) -> Dict[str, np.ndarray]:
    """Load the AV-Digits arrays, failing clearly on a missing/bad file."""
    if not osp.isfile(path):
        raise DataNotFoundError(
            f'AV-Digits file not found: {path}. It ships inside the package '
            '(mstkd/datasets/data/avdigits/avdigits.npz); regenerate it with '
            '`python tools/dataset_converters/make_avdigits.py --out PATH`.')
    regenerate = ('Regenerate it with `python tools/dataset_converters/'
                  'make_avdigits.py --out PATH` (see the AV-Digits README).')
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise UserInputError(
                    f'{path} lacks the keys {missing}; expected '
                    f'{list(KEYS)}. {regenerate}')
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        # truncated, random bytes, or arrays that need pickle (object
        # dtype): never loaded with allow_pickle
        raise UserInputError(
            f'{path} is not a readable AV-Digits .npz file (numpy arrays '
            f'{list(KEYS)}, no pickled objects): '
            f'{type(err).__name__}: {err}. {regenerate}') from None
    num_classes = len(AVDigitsDataset.METAINFO['classes'])
    arrays['labels'] = check_labels(arrays['labels'], num_classes,
                                    f'{path} (images)')
    arrays['clip_labels'] = check_labels(arrays['clip_labels'], num_classes,
                                         f'{path} (clips)')
    check_finite(arrays['images'], path, 'images')
    check_finite(arrays['clips'], path, 'clips')
    return arrays


@DATASETS.register_module()
class AVDigitsDataset(MultiModalClsDataset):
    """AV-Digits: image 1x28x28 and audio 1x112x112 log-mel, 10 classes.

    Args:
        data_file (str, optional): Path of ``avdigits.npz``; defaults to the
            copy embedded in the package.
        n_mels (int): Mel bins (height) of the spectrogram. Defaults to 112.
        n_frames (int): Frames (width) of the spectrogram. Defaults to 112.
        **kwargs: ``split``, ``seed``, ``modalities``, ... of
            :class:`MultiModalClsDataset`.
    """

    METAINFO = dict(classes=tuple(str(i) for i in range(10)),
                    modalities=('image', 'audio'))

    def __init__(self,
                 data_file: Optional[str] = None,
                 n_mels: int = 112,
                 n_frames: int = 112,
                 **kwargs):
        self.data_file = data_file or DEFAULT_FILE
        self.n_mels = n_mels
        self.n_frames = n_frames
        super().__init__(**kwargs)

    def load_modalities(self):
        self._arrays = load_avdigits_file(self.data_file)
        images = torch.from_numpy(self._arrays['images']).unsqueeze(1)
        data = dict(image=minmax_per_sample(images.float()))
        return data, self._arrays['labels']

    def select(self, data, labels, indices):
        out = {}
        if 'image' in self.modalities:
            out['image'] = data['image'][torch.as_tensor(indices)]
        if 'audio' in self.modalities:
            out['audio'] = self._paired_audio(np.asarray(labels)[indices])
        del self._arrays
        return out

    def _paired_audio(self, split_labels: np.ndarray) -> torch.Tensor:
        """Draw, per image, a clip of the same digit from the split's pool."""
        arrays = self._arrays
        pool = POOLS[self.split]
        pool_ids = np.flatnonzero(arrays['clip_pool'] == pool)
        clip_labels = arrays['clip_labels'][pool_ids]
        rng = np.random.RandomState([self.seed, pool])
        chosen = np.empty(len(split_labels), dtype=np.int64)
        for digit in range(len(self._metainfo['classes'])):
            rows = np.flatnonzero(split_labels == digit)
            candidates = pool_ids[clip_labels == digit]
            if len(rows) and not len(candidates):
                raise ValueError(f'{self.data_file}: the {self.split} pool '
                                 f'has no clip of digit {digit}.')
            if len(rows):
                chosen[rows] = candidates[rng.randint(len(candidates),
                                                      size=len(rows))]
        # Spectrograms of the pool's clips only, then gather per image.
        used, inverse = np.unique(chosen, return_inverse=True)
        spec = log_mel_spectrogram(arrays['clips'][used],
                                   int(arrays['sample_rate']),
                                   n_mels=self.n_mels, n_frames=self.n_frames)
        spec = minmax_per_sample(spec).unsqueeze(1)
        self.clip_ids = chosen
        return spec[torch.as_tensor(inverse)]
