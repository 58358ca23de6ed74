"""VGGSound-50k (VGGSound-AVEL50k, 141 classes) in the MST-Distill release
layout: per-clip VGG19 visual and VGGish audio features, one file per clip.
"""
import os.path as osp
from typing import List, Tuple

import numpy as np
import torch

from mstkd.registry import DATASETS
from mstkd.utils.errors import DataNotFoundError, UserInputError
from .file_checks import require_dir
from .multimodal_dataset import MultiModalClsDataset
from .npy_io import check_npy
from .sources import NpyFilesSource, SplitView

NUM_CLASSES = 141
METADATA = 'VGGS50k_metadata.txt'
FEATURES = 'VGGS50K_features_normed'
VISUAL_SHAPE = (10, 7, 7, 512)
AUDIO_SHAPE = (10, 128)
SEG_SHAPE = (1, 10)

LAYOUT = f"""\
VGGS50K/                                  <- data_root
  {METADATA}                    lines {{name}}&{{class_id}}, class_id 0..140
  {FEATURES}/
    visual_features/{{name}}_vFeature.npy   [10, 7, 7, 512] float
    audio_features/{{name}}_aFeature.npy    [10, 128] float
  seg_labels/{{name}}_sLabel.npy            [1, 10] 0/1 (with_seg_labels)"""


def read_vggsound_metadata(path: str) -> Tuple[List[str], np.ndarray]:
    """Read ``{name}&{class_id}`` lines (blank lines are skipped).

    Args:
        path (str): ``VGGS50k_metadata.txt``.

    Returns:
        tuple: ``(names, labels int64 [N])`` in file order (the order the
        split permutations index).
    """
    if not osp.isfile(path):
        raise DataNotFoundError(f'VGGSound-50k metadata not found: {path}'
                                f'\nExpected layout:\n{LAYOUT}')
    names, labels = [], []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            name, sep, class_id = line.rpartition('&')
            try:
                label = int(class_id) if sep and name else None
            except ValueError:
                label = None
            if label is None or not 0 <= label < NUM_CLASSES:
                raise UserInputError(
                    f'{path}:{lineno}: bad metadata line {line!r}; expected '
                    f'{{name}}&{{class_id}} with class_id in 0..'
                    f'{NUM_CLASSES - 1}.\nExpected layout:\n{LAYOUT}')
            names.append(name)
            labels.append(label)
    if not names:
        raise UserInputError(f'{path} lists no clips.\nExpected layout:\n'
                             f'{LAYOUT}')
    return names, np.asarray(labels, dtype=np.int64)


def visual_to_tensor(feat: np.ndarray) -> torch.Tensor:
    """``[10, 7, 7, 512]`` -> float32 ``[512, 10, 7, 7]`` (conv3d layout)."""
    return torch.from_numpy(np.asarray(feat, dtype=np.float32)).permute(
        3, 0, 1, 2).contiguous()


def audio_to_tensor(feat: np.ndarray) -> torch.Tensor:
    """``[10, 128]`` -> float32 ``[128, 10]`` (conv1d layout)."""
    return torch.from_numpy(np.asarray(feat,
                                       dtype=np.float32)).t().contiguous()


def seg_to_tensor(seg: np.ndarray) -> torch.Tensor:
    """``[1, 10]`` -> float32 ``[10]``."""
    return torch.from_numpy(np.asarray(seg, dtype=np.float32)).reshape(-1)


@DATASETS.register_module()
class VGGSound50kDataset(MultiModalClsDataset):
    """VGGSound-50k: visual features 512x10x7x7, audio features 128x10,
    141 classes.

    The clip order (what the split permutations index) is the order of the
    metadata lines. Features are served per item from their per-clip files
    (50k clips x 10x7x7x512 float32 = 10 GB: never all in memory); they are
    already normalised in the release (one global min-max per modality), so
    no normalisation is applied. At construction only the existence of the
    split's files and the header of one file per modality are checked; a
    file with the wrong shape fails when its item is loaded, naming the path.

    Args:
        data_root (str): The ``VGGS50K`` folder itself.
        with_seg_labels (bool): Also serve the per-second event labels as
            ``data_samples['seg_label']`` (float32 ``[10]`` of 0/1). Defaults
            to False.
        **kwargs: ``split``, ``seed`` (the run seed = the split group),
            ``modalities`` (a subset of ('visual', 'audio')),
            ``indices_file`` (``metadata/VGGSound-50k_indices.csv``),
            ``ratios`` and ``metainfo`` of :class:`MultiModalClsDataset`.
    """

    METAINFO = dict(classes=tuple(str(i) for i in range(NUM_CLASSES)),
                    modalities=('visual', 'audio'))

    def __init__(self,
                 data_root: str,
                 with_seg_labels: bool = False,
                 **kwargs):
        self.data_root = data_root
        self.with_seg_labels = with_seg_labels
        super().__init__(**kwargs)

    def load_modalities(self):
        require_dir(self.data_root, LAYOUT, 'VGGSound-50k folder')
        names, labels = read_vggsound_metadata(
            osp.join(self.data_root, METADATA))
        self.names = names
        feats = osp.join(self.data_root, FEATURES)
        sources = dict(
            visual=NpyFilesSource([
                osp.join(feats, 'visual_features', f'{n}_vFeature.npy')
                for n in names
            ], VISUAL_SHAPE, visual_to_tensor, LAYOUT, what='visual'),
            audio=NpyFilesSource([
                osp.join(feats, 'audio_features', f'{n}_aFeature.npy')
                for n in names
            ], AUDIO_SHAPE, audio_to_tensor, LAYOUT, what='audio'))
        data = {m: sources[m] for m in self.modalities}
        self._seg = None
        if self.with_seg_labels:
            self._seg = NpyFilesSource([
                osp.join(self.data_root, 'seg_labels', f'{n}_sLabel.npy')
                for n in names
            ], SEG_SHAPE, seg_to_tensor, LAYOUT)
        return data, labels

    def select(self, data, labels, indices):
        checked = dict(data)
        if self._seg is not None:
            checked['seg_labels'] = self._seg
        for what, source in checked.items():
            missing = source.missing(indices)
            if missing:
                raise DataNotFoundError(
                    f'{len(missing)} {what} file(s) of the '
                    f'{self.split} split not found, e.g. {missing[0]}'
                    f'\nExpected layout:\n{LAYOUT}')
            if len(indices):
                check_npy(source.paths[indices[0]], source.shape, 'fiub',
                          LAYOUT, f'{what} features')
        out = super().select(data, labels, indices)
        if self._seg is not None:
            self.seg_labels = SplitView(self._seg, indices)
        return out

    def sample_extras(self, idx: int) -> dict:
        if self._seg is None:
            return {}
        return dict(seg_label=self.seg_labels[idx])
