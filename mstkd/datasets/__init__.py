from .av_mnist import AVMNISTDataset
from .avdigits import AVDigitsDataset
from .multimodal_dataset import MultiModalClsDataset
from .normalization import minmax_per_sample
from .sources import LazySource, MemmapSource, NpyFilesSource, SplitView
from . import transforms  # noqa: F401 (registers the RGB-D transforms)
from .crisismmd import CrisisMMDDataset
from .nyu_depth_v2 import NYUDepthV2SegDataset
from .ravdess import RAVDESSDataset
from .splits import get_permutation, make_permutations, split_indices
from .vggsound import VGGSound50kDataset

__all__ = [
    'AVDigitsDataset', 'AVMNISTDataset', 'RAVDESSDataset',
    'VGGSound50kDataset', 'CrisisMMDDataset', 'NYUDepthV2SegDataset',
    'MultiModalClsDataset',
    'LazySource', 'MemmapSource', 'NpyFilesSource', 'SplitView',
    'minmax_per_sample', 'get_permutation', 'make_permutations',
    'split_indices'
]
