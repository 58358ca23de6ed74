"""RAVDESS (speech, audio-visual) in the MST-Distill release layout.

The release's preprocessing stores 1,440 clips: 15 face-crop frames (BGR,
uint8) per clip and 15 MFCCs of the 3.6 s audio track (22.05 kHz).
"""
import os.path as osp
import threading
from typing import Dict, Tuple

import numpy as np
import torch

from mstkd.registry import DATASETS
from mstkd.utils.errors import UserInputError
from .file_checks import (check_finite, check_labels, file_key, layout_hint,
                          require_dir, require_files)
from .multimodal_dataset import MultiModalClsDataset
from .normalization import minmax_per_sample
from .npy_io import check_npy, iter_npy_chunks, npy_info
from .sources import MemmapSource

LAYOUT = """\
RAVDESS_preprocessed_npy/     <- data_root
  video_data.npy   [1440, 15, 3, 224, 224] uint8  15 BGR face-crop frames
  audio_data.npy   [1440, 15, 156] float          15 MFCCs x 156 frames
  label_data.npy   [1440] ints 0..7               emotion code - 1"""

CLASSES = ('neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust',
           'surprised')

# Per-channel video statistics, computed once per process and file content
# (train/val/test datasets of one run share them).
_STATS_CACHE: Dict[tuple, Tuple[np.ndarray, np.ndarray]] = {}
_STATS_LOCK = threading.Lock()


def video_channel_minmax(path: str,
                         chunk_rows: int = 32
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel min and max of a ``[N, T, C, H, W]`` video file over the
    whole set (axes N, T, H, W), as the release's ``min_max_normalize``.

    The file is read ``chunk_rows`` clips at a time (plain reads, in the
    file's dtype: min and max are exact in any dtype), so memory stays at one
    chunk (72 MB for 32 clips of 15x3x224x224 uint8), never a float copy of
    the set. Results are cached per file content in this process.

    Args:
        path (str): ``video_data.npy``.
        chunk_rows (int): Clips read at a time.

    Returns:
        tuple: ``(lo, hi)``, float32 arrays ``[C]``.
    """
    key = file_key(path)
    with _STATS_LOCK:
        if key in _STATS_CACHE:
            return _STATS_CACHE[key]
    lo = hi = None
    for start, chunk in iter_npy_chunks(path, chunk_rows):
        # a float file may hold NaN/Inf (the release's uint8 cannot)
        check_finite(chunk, path, 'video',
                     rows=range(start, start + len(chunk)))
        c_lo = chunk.min(axis=(0, 1, 3, 4))
        c_hi = chunk.max(axis=(0, 1, 3, 4))
        lo = c_lo if lo is None else np.minimum(lo, c_lo)
        hi = c_hi if hi is None else np.maximum(hi, c_hi)
    stats = (lo.astype(np.float32), hi.astype(np.float32))
    with _STATS_LOCK:
        _STATS_CACHE[key] = stats
    return stats


class VideoChannelMinMax:
    """Per-item transform: ``[T, C, H, W]`` clip -> float32 ``[C, T, H, W]``
    min-max normalised with whole-set per-channel ``lo``/``hi``.

    Same numbers as normalising the whole set and then indexing it (for uint8
    input, also bit-identical to the release's float64 result cast to
    float32). A constant channel becomes zeros (the release gets NaN).

    Args:
        lo (np.ndarray): Per-channel minimum ``[C]``.
        hi (np.ndarray): Per-channel maximum ``[C]``.
        eps (float): Smallest range divided by.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, eps: float = 1e-12):
        self.lo = torch.as_tensor(np.asarray(lo, np.float32)).view(1, -1, 1, 1)
        self.scale = (
            torch.as_tensor(np.asarray(hi, np.float32)).view(1, -1, 1, 1) -
            self.lo).clamp_min(eps)

    def __call__(self, clip: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.array(clip, dtype=np.float32))
        x.sub_(self.lo).div_(self.scale)
        return x.permute(1, 0, 2, 3).contiguous()


@DATASETS.register_module()
class RAVDESSDataset(MultiModalClsDataset):
    """RAVDESS: video 3x15xHxW (224x224 in the release) and MFCC audio 15x156,
    8 emotions.

    Normalisation as the release: video min-max per channel over the whole
    set, audio min-max per sample. The video (1440 x 2.26 MB uint8; 13 GB as
    float32) is never loaded: its per-channel range is computed in chunks
    (:func:`video_channel_minmax`) and each clip is read from a memory map
    and normalised when served (:class:`VideoChannelMinMax`). The clip is
    permuted from the release's ``[15, 3, H, W]`` to the conv3d layout
    ``[3, 15, H, W]``. Audio (13 MB) is kept in memory.

    Args:
        data_root (str): The ``RAVDESS_preprocessed_npy`` folder itself.
        chunk_rows (int): Clips read at a time for the video statistics.
        **kwargs: ``split``, ``seed`` (the run seed = the split group),
            ``modalities`` (a subset of ('video', 'audio')), ``indices_file``
            (``metadata/RAVDESS_indices.csv``), ``ratios`` and ``metainfo``
            of :class:`MultiModalClsDataset`.
    """

    METAINFO = dict(classes=CLASSES, modalities=('video', 'audio'))

    def __init__(self, data_root: str, chunk_rows: int = 32, **kwargs):
        self.data_root = data_root
        self.chunk_rows = chunk_rows
        super().__init__(**kwargs)

    def files(self) -> Dict[str, str]:
        """The release files: ``video``, ``audio`` and ``labels``."""
        return dict(video=osp.join(self.data_root, 'video_data.npy'),
                    audio=osp.join(self.data_root, 'audio_data.npy'),
                    labels=osp.join(self.data_root, 'label_data.npy'))

    def load_modalities(self):
        require_dir(self.data_root, LAYOUT, 'RAVDESS folder')
        files = self.files()
        needed = [files[k] for k in ('labels', ) + tuple(self.modalities)]
        require_files(needed, LAYOUT, 'RAVDESS files')
        check_npy(files['labels'], [None], 'fiu', LAYOUT, 'labels')
        labels = check_labels(np.load(files['labels'], allow_pickle=False),
                              len(CLASSES), files['labels'], LAYOUT)
        n = len(labels)
        data = {}
        if 'video' in self.modalities:
            shape, _ = npy_info(files['video'], LAYOUT)
            if len(shape) != 5 or shape[2] != 3:
                raise UserInputError(
                    f'{files["video"]}: video has shape {list(shape)}, '
                    'expected [N, 15, 3, H, W] (frames, BGR channels).' +
                    layout_hint(LAYOUT))
            check_npy(files['video'], [n, None, 3, None, None], 'fiu', LAYOUT,
                      f'video ({n} labels in {files["labels"]})')
            self.video_min, self.video_max = video_channel_minmax(
                files['video'], self.chunk_rows)
            data['video'] = MemmapSource(
                files['video'],
                VideoChannelMinMax(self.video_min, self.video_max))
        if 'audio' in self.modalities:
            check_npy(files['audio'], [n, None, None], 'fiu', LAYOUT,
                      f'audio ({n} labels in {files["labels"]})')
            audio = np.load(files['audio'], allow_pickle=False)
            check_finite(audio, files['audio'], 'audio')
            audio = torch.from_numpy(audio.astype(np.float32, copy=False))
            data['audio'] = minmax_per_sample(audio)
        return data, labels
