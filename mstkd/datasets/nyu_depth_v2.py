"""NYU-Depth-V2 RGB-D semantic segmentation (40 classes + void).

The data are the 1,449 densely labelled RGB-D frames of Silberman et al.
(ECCV 2012) with the 40-class labels of Gupta et al. (CVPR 2013), converted by
``tools/dataset_converters/nyu_depth_v2.py`` into one PNG per image, depth map
and label map (see ``docs/nyu_depth_v2.md``)::

    data_root/
        images/0000.png ...    RGB, 8-bit
        depths/0000.png ...    uint16 millimetres (or .npy float32 metres)
        labels/0000.png ...    uint8, 0 = void, 1..40
        metadata/NYU-Depth-V2_indices.csv    20 split permutations
        splits/standard_{train,test}.txt     optional, 795 / 654 indices
        meta.json              N, H, W, RGB min/max over the set, ...

Two split modes:

* ``'release'`` (default, the MST-Distill protocol): run seed ``s`` uses
  permutation ``group_s``; train/val/test = 60/20/20 (869/290/290).
* ``'standard'``: the 795/654 train/test split of ``splits.mat``. It has no
  validation set; by default ``val`` is the test list (what most NYU-40
  papers report and select on), or, with ``standard_val_ratio > 0``, a
  seeded random part of the training list held out from training.
"""
import json
import os
import os.path as osp
from typing import List, Sequence

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS as MMSEG_DATASETS

from mstkd.registry import DATASETS
from mstkd.utils.errors import DataNotFoundError, UserInputError
from .splits import REFERENCE_SPLIT_SEED, get_permutation, split_indices

NYU_CLASSES = ('wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table',
               'door', 'window', 'bookshelf', 'picture', 'counter', 'blinds',
               'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror',
               'floor mat', 'clothes', 'ceiling', 'books', 'refrigerator',
               'television', 'paper', 'towel', 'shower curtain', 'box',
               'whiteboard', 'person', 'night stand', 'toilet', 'sink',
               'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
               'otherprop')

# The PASCAL VOC colour map of ids 1..40 (distinct, and 0 = void stays black).
#: Name of label 0 when ``reduce_zero_label=False`` (41 classes).
VOID_CLASS = 'void'
NYU_PALETTE = [[128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
               [128, 0, 128], [0, 128, 128], [128, 128, 128], [64, 0, 0],
               [192, 0, 0], [64, 128, 0], [192, 128, 0], [64, 0, 128],
               [192, 0, 128], [64, 128, 128], [192, 128, 128], [0, 64, 0],
               [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128],
               [128, 64, 128], [0, 192, 128], [128, 192, 128], [64, 64, 0],
               [192, 64, 0], [64, 192, 0], [192, 192, 0], [64, 64, 128],
               [192, 64, 128], [64, 192, 128], [192, 192, 128], [0, 0, 64],
               [128, 0, 64], [0, 128, 64], [128, 128, 64], [0, 0, 192],
               [128, 0, 192], [0, 128, 192], [128, 128, 192], [64, 0, 64]]

NAME = 'NYU-Depth-V2'
SPLIT_MODES = ('release', 'standard')
DEPTH_SUFFIXES = dict(png16='.png', npy='.npy')

# Printed when the data are missing (tools print it without a traceback).
HOW_TO_GET = '\n'.join([
    'How to get the data (nothing is downloaded automatically):',
    '  1. Get ONE of',
    '     a) the MST-Distill release file NYU-Depth-V2/NYU-Depth-V2_data.mat',
    '        (HDF5: images, depths, labels40), or',
    '     b) the stock labelled set (2.8 GB)',
    '        http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/'
    'nyu_depth_v2_labeled.mat',
    '        plus the 894 -> 40 class mapping of Gupta et al. '
    '(classMapping40.mat,',
    '        e.g. https://github.com/ankurhanda/nyuv2-meta-data).',
    "     Optional, for split_mode='standard': the 795/654 split",
    '        http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/'
    'splits.mat',
    '  2. Convert it (streams one image at a time; 1-2 GB of PNGs):',
    '     a) python tools/dataset_converters/nyu_depth_v2.py '
    'NYU-Depth-V2_data.mat -o {root}',
    '     b) python tools/dataset_converters/nyu_depth_v2.py '
    'nyu_depth_v2_labeled.mat -o {root} --mapping classMapping40.mat '
    '[--splits-mat splits.mat]',
    '  3. Point the config at it: edit data_root in '
    'configs/_base_/datasets/nyu_depth_v2.py,',
    '     or pass --cfg-options train_dataloader.dataset.data_root={root} '
    'val_dataloader.dataset.data_root={root} '
    'test_dataloader.dataset.data_root={root}',
    'Expected layout:',
    '  {root}/images/0000.png ...   {root}/depths/0000.png ...   '
    '{root}/labels/0000.png ...',
    '  {root}/metadata/NYU-Depth-V2_indices.csv   {root}/meta.json',
    'Details: docs/nyu_depth_v2.md',
])


def _not_found(data_root: str, problem: str) -> DataNotFoundError:
    """A DataNotFoundError that says what is wrong and how to fix it."""
    root = data_root or 'data/NYU-Depth-V2'
    hints = []
    if data_root and osp.isdir(data_root):
        mats = sorted(f for f in os.listdir(data_root) if f.endswith('.mat'))
        for mat in mats:
            hints.append(
                f'{data_root} holds {mat}, which must be converted first, '
                'e.g. in place: python tools/dataset_converters/'
                f'nyu_depth_v2.py {osp.join(data_root, mat)} -o {data_root}'
                + (' --mapping classMapping40.mat' if 'labeled' in mat
                   else ''))
    return DataNotFoundError('\n'.join(
        [f'NYU-Depth-V2 data not found: {problem}'] + hints +
        [HOW_TO_GET.format(root=root)]))


@DATASETS.register_module()
class NYUDepthV2SegDataset(BaseSegDataset):
    """NYU-Depth-V2 semantic segmentation with RGB and depth.

    Every item gives ``img_path`` (RGB PNG), ``depth_path`` (depth map),
    ``seg_map_path`` (label PNG) and the set statistics ``rgb_min`` /
    ``rgb_max`` (from ``meta.json``) that
    :class:`~mstkd.datasets.transforms.NormalizeRGBD` uses. With the default
    pipeline the model input is a float32 ``[4, H, W]`` tensor in R, G, B, D
    order (see ``configs/_base_/datasets/nyu_depth_v2.py``).

    Args:
        data_root (str): The converted folder (see the module docstring).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        seed (int): The run seed ``s``: permutation ``group_s`` of the
            release protocol (0..19). ``tools/train.py --seed`` sets it.
            With ``split_mode='standard'`` it only seeds the optional
            validation hold-out.
        split_mode (str): ``'release'`` (60/20/20 by the permutation, the
            MST-Distill protocol) or ``'standard'`` (the 795/654 split of
            ``splits/standard_*.txt``).
        standard_val_ratio (float): ``split_mode='standard'`` only. 0 (default)
            makes ``val`` the test list; a value in (0, 1) holds that
            fraction of the training list out (chosen with
            ``RandomState(19980427 + seed)``) as ``val``.
        reduce_zero_label (bool): Map 0 (void) to 255 (ignored by the loss
            and IoUMetric) and 1..40 to 0..39: mmseg's 40-class label space.
            Defaults to True. False keeps the file's labels, void = class 0
            of 41 (the public MST-Distill release's label space: 41
            outputs, ``CrossEntropyLoss(ignore_index=0)``); the metainfo
            then names 41 classes, ``'void'`` first (palette black).
        ratios (Sequence[float]): train/val/test fractions of the release
            protocol.
        indices_file (str): Permutation CSV, relative to ``data_root``; when
            it is missing the permutations are regenerated (same numbers).
        data_prefix (dict): Sub-folders ``img_path``, ``depth_path``,
            ``seg_map_path`` relative to ``data_root``.
        **kwargs: Other :class:`mmseg.datasets.BaseSegDataset` arguments
            (``pipeline``, ``test_mode``, ``lazy_init``, ``indices``, ...).
    """

    METAINFO = dict(
        classes=NYU_CLASSES,
        palette=NYU_PALETTE,
        modalities=('rgb', 'depth'))

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 seed: int = 0,
                 split_mode: str = 'release',
                 standard_val_ratio: float = 0.0,
                 reduce_zero_label: bool = True,
                 ratios: Sequence[float] = (0.6, 0.2, 0.2),
                 indices_file: str = f'metadata/{NAME}_indices.csv',
                 data_prefix: dict = dict(
                     img_path='images',
                     depth_path='depths',
                     seg_map_path='labels'),
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        if split not in ('train', 'val', 'test'):
            raise ValueError(
                f'split must be "train", "val" or "test", got "{split}".')
        if split_mode not in SPLIT_MODES:
            raise ValueError(f'split_mode must be one of {SPLIT_MODES}, got '
                             f'"{split_mode}".')
        if not 0.0 <= standard_val_ratio < 1.0:
            raise ValueError('standard_val_ratio must lie in [0, 1), got '
                             f'{standard_val_ratio}.')
        self.split = split
        self.seed = seed
        self.split_mode = split_mode
        self.standard_val_ratio = standard_val_ratio
        self.ratios = tuple(ratios)
        self.indices_file = indices_file
        self.sample_indices = np.zeros(0, dtype=np.int64)
        self.nyu_meta: dict = {}
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
        if not reduce_zero_label:
            # the release's 41 outputs: void is class 0 of the label space
            self._metainfo.update(
                classes=(VOID_CLASS, ) + tuple(self._metainfo['classes']),
                palette=[[0, 0, 0]] + list(self._metainfo['palette']))

    @classmethod
    def classes_for_config(cls, dataset_cfg: dict) -> tuple:
        """The class names a dataset config gives (for the config checks
        before the Runner): 40, or 41 with ``reduce_zero_label=False``."""
        classes = tuple(cls.METAINFO['classes'])
        if dataset_cfg.get('reduce_zero_label', True) is False:
            return (VOID_CLASS, ) + classes
        return classes

    # ------------------------------------------------------------------
    def _read_meta(self) -> dict:
        root = self.data_root
        if not root:
            raise _not_found(root, 'data_root is not set.')
        if not osp.isdir(root):
            raise _not_found(root, f'the folder {root} does not exist.')
        meta_file = osp.join(root, 'meta.json')
        if not osp.isfile(meta_file):
            raise _not_found(
                root, f'{meta_file} is missing (it is written last by the '
                'converter, so the conversion did not run or did not '
                'finish).')
        try:
            with open(meta_file) as f:
                meta = json.load(f)
        except ValueError as err:  # json.JSONDecodeError, bad encoding
            raise _not_found(root, f'{meta_file} is not valid JSON ({err}); '
                             're-run the converter.') from err
        if not isinstance(meta, dict):
            raise _not_found(root, f'{meta_file} does not hold a JSON '
                             'object; re-run the converter.')
        missing = [k for k in ('num_samples', 'rgb_min', 'rgb_max',
                               'depth_format') if k not in meta]
        if missing:
            raise _not_found(root, f'{meta_file} lacks {missing}; re-run the '
                             'converter.')
        if meta['depth_format'] not in DEPTH_SUFFIXES:
            raise _not_found(root, f'{meta_file}: unknown depth_format '
                             f'"{meta["depth_format"]}".')
        return meta

    def _split_of(self, num_samples: int) -> np.ndarray:
        """The sample indices of ``self.split``."""
        if self.split_mode == 'release':
            csv = self.indices_file
            if csv and not osp.isabs(csv):
                csv = osp.join(self.data_root, csv)
            try:
                perm = get_permutation(num_samples, self.seed, csv)
            except ValueError as err:  # a bad split file or run seed
                raise UserInputError(f'{type(self).__name__} ({num_samples} '
                                     f'samples): {err}') from err
            return split_indices(perm, self.split, self.ratios)
        lists = {}
        for name in ('train', 'test'):
            path = osp.join(self.data_root, 'splits',
                            f'standard_{name}.txt')
            if not osp.isfile(path):
                raise _not_found(
                    self.data_root,
                    f'split_mode="standard" needs {path}; convert with '
                    '--splits-mat splits.mat (or use split_mode="release").')
            with open(path) as f:
                words = f.read().split()
            try:
                lists[name] = np.array([int(w) for w in words],
                                       dtype=np.int64)
            except ValueError as err:
                raise _not_found(self.data_root,
                                 f'{path} must hold one sample index per '
                                 f'line ({err}); re-run the converter.'
                                 ) from err
            if lists[name].size and (lists[name].min() < 0 or
                                     lists[name].max() >= num_samples):
                raise _not_found(self.data_root,
                                 f'{path} has indices outside 0..'
                                 f'{num_samples - 1}; re-run the converter.')
        if self.split == 'test' or (self.split == 'val'
                                    and self.standard_val_ratio == 0):
            return lists['test']
        train = lists['train']
        if self.standard_val_ratio == 0:
            return train
        rng = np.random.RandomState(REFERENCE_SPLIT_SEED + self.seed)
        order = rng.permutation(len(train))
        n_val = int(round(self.standard_val_ratio * len(train)))
        chosen = order[:n_val] if self.split == 'val' else order[n_val:]
        return np.sort(train[chosen])

    def load_data_list(self) -> List[dict]:
        """One entry per sample of the split.

        Returns:
            list[dict]: ``img_path``, ``depth_path``, ``seg_map_path``,
            ``label_map``, ``reduce_zero_label``, ``seg_fields``,
            ``nyu_index`` (the 0-based sample number), ``rgb_min``,
            ``rgb_max`` and ``depth_scale``.
        """
        meta = self._read_meta()
        self.nyu_meta = meta
        n = int(meta['num_samples'])
        self.sample_indices = self._split_of(n)
        depth_suffix = DEPTH_SUFFIXES[meta['depth_format']]
        depth_scale = float(meta.get('depth_scale', 1000.0))
        img_dir = self.data_prefix['img_path']
        depth_dir = self.data_prefix['depth_path']
        seg_dir = self.data_prefix['seg_map_path']
        rgb_min = [float(v) for v in meta['rgb_min']]
        rgb_max = [float(v) for v in meta['rgb_max']]
        data_list, missing = [], []
        for idx in self.sample_indices.tolist():
            stem = f'{idx:04d}'
            info = dict(
                img_path=osp.join(img_dir, stem + self.img_suffix),
                depth_path=osp.join(depth_dir, stem + depth_suffix),
                seg_map_path=osp.join(seg_dir, stem + self.seg_map_suffix),
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[],
                nyu_index=idx,
                rgb_min=list(rgb_min),
                rgb_max=list(rgb_max),
                depth_scale=depth_scale)
            for key in ('img_path', 'depth_path', 'seg_map_path'):
                if not osp.isfile(info[key]):
                    missing.append(info[key])
            data_list.append(info)
        if missing:
            shown = ', '.join(missing[:3])
            raise _not_found(
                self.data_root,
                f'{len(missing)} file(s) of the {self.split} split are '
                f'missing, e.g. {shown}. Re-run the converter.')
        return data_list


# Also findable as ``mmseg.NYUDepthV2SegDataset`` by mmseg's own tools (mmseg
# has no dataset of this name: its NYUDataset is for depth estimation).
MMSEG_DATASETS.register_module(module=NYUDepthV2SegDataset)
