"""Load a depth map as a float32 array in metres."""
import io
import os.path as osp
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS

from mstkd.registry import TRANSFORMS
from mstkd.utils.errors import UserInputError


@TRANSFORMS.register_module()
class LoadDepthFromFile(BaseTransform):
    """Load ``results['depth_path']`` into ``results['depth']``.

    A depth map is an *input* modality here, not an annotation: it is read
    as float32 metres and is not added to ``seg_fields`` (mmseg's
    ``LoadDepthAnnotation`` is for depth-estimation targets). Concatenate it
    to the image with :class:`~mstkd.datasets.transforms.ConcatRGBD` before
    any geometric transform, so that it is resized, cropped and flipped with
    the image (interpolated like the image, never like a label).

    Formats: a 16-bit PNG of ``depth_scale`` units per metre (the converter
    writes millimetres: 1000), or a ``.npy`` array already in metres (NaN
    or Inf in it is refused, naming the file and the first pixel: missing
    depth is 0, as the converter writes it).

    Required Keys:

    - depth_path
    - depth_scale (optional; set by ``NYUDepthV2SegDataset`` from meta.json)

    Added Keys:

    - depth (np.float32, [H, W], metres)

    Args:
        depth_scale (float, optional): PNG units per metre. None (default)
            takes ``results['depth_scale']`` and falls back to 1000.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 depth_scale: Optional[float] = None,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__()
        if depth_scale is not None and depth_scale <= 0:
            raise ValueError(f'depth_scale must be > 0, got {depth_scale}.')
        self.depth_scale = depth_scale
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Read the depth map.

        Args:
            results (dict): Holds ``depth_path``.

        Returns:
            dict: With ``depth`` added.
        """
        path = results['depth_path']
        data = fileio.get(path, backend_args=self.backend_args)
        if osp.splitext(path)[1].lower() == '.npy':
            depth = np.load(io.BytesIO(data), allow_pickle=False)
            depth = np.asarray(depth, dtype=np.float32)
            bad = ~np.isfinite(depth)
            if bad.any():
                pos = tuple(int(i) for i in np.argwhere(bad)[0])
                raise UserInputError(
                    f'{path}: depth{list(pos)} contains NaN/Inf '
                    f'({int(bad.sum())} pixels); write missing depth as 0 '
                    '(the converter\'s convention) or drop that image.')
        else:
            raw = mmcv.imfrombytes(data, flag='unchanged', backend='cv2')
            if raw is None or raw.dtype != np.uint16:
                raise ValueError(
                    f'{path}: expected a 16-bit single-channel PNG of depth '
                    f'units, got {None if raw is None else raw.dtype}. '
                    'Re-convert with tools/dataset_converters/'
                    'nyu_depth_v2.py.')
            scale = self.depth_scale or float(
                results.get('depth_scale', 1000.0))
            depth = raw.astype(np.float32) / np.float32(scale)
        depth = np.squeeze(depth)
        if depth.ndim != 2:
            raise ValueError(f'{path}: a depth map must be 2-D, got shape '
                             f'{depth.shape}.')
        results['depth'] = depth
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(depth_scale={self.depth_scale}, '
                f'backend_args={self.backend_args})')


MMSEG_TRANSFORMS.register_module(module=LoadDepthFromFile)
