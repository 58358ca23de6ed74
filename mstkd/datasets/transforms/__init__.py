"""Data transforms for RGB-D inputs (NYU-Depth-V2).

Registered in mstkd's TRANSFORMS (and in mmseg's, so mmseg's tools find
them). Geometric augmentation reuses mmseg's transforms on the concatenated
4-channel image: see :mod:`mstkd.datasets.transforms.rgbd`.
"""
from .loading import LoadDepthFromFile
from .photometric import RGBOnlyPhotoMetricDistortion
from .rgbd import ConcatRGBD, NormalizeRGBD

__all__ = [
    'LoadDepthFromFile', 'ConcatRGBD', 'NormalizeRGBD',
    'RGBOnlyPhotoMetricDistortion'
]
