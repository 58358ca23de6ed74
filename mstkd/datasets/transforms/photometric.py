"""Photometric augmentation of the colour channels of an RGB-D sample."""
import numpy as np
from mmseg.datasets.transforms import PhotoMetricDistortion
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS

from mstkd.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RGBOnlyPhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg's ``PhotoMetricDistortion`` on the colour image only.

    Brightness, contrast, saturation and hue changes make no sense for a
    depth map, and mmseg's transform clips to uint8 [0, 255], which would
    destroy normalised or metric values. This transform distorts the uint8
    colour channels and leaves depth untouched. It accepts:

    * the [H, W, 3] uint8 BGR image of ``LoadImageFromFile`` (depth still in
      ``results['depth']``): the usual place, before ``ConcatRGBD``;
    * the [H, W, 4] float RGB-D image of ``ConcatRGBD`` before
      ``NormalizeRGBD`` (colour still in 0..255): channels 0-2 are rounded
      to uint8, distorted and written back; channel 3 is not touched.

    After ``NormalizeRGBD`` it raises: the colour is no longer uint8.

    Args:
        brightness_delta, contrast_range, saturation_range, hue_delta: as in
            :class:`mmseg.datasets.transforms.PhotoMetricDistortion`.
    """

    def transform(self, results: dict) -> dict:
        """Distort the colour channels.

        Args:
            results (dict): Holds ``img``.

        Returns:
            dict: ``img`` with distorted colour channels.
        """
        img = results['img']
        if img.ndim == 3 and img.shape[2] == 3:
            if img.dtype != np.uint8:
                raise ValueError(
                    'RGBOnlyPhotoMetricDistortion expects the uint8 colour '
                    f'image as loaded, got {img.dtype}.')
            return super().transform(results)
        if img.ndim == 3 and img.shape[2] == 4:
            if results.get('rgbd_normalized', True):
                raise ValueError(
                    'RGBOnlyPhotoMetricDistortion must run before '
                    'NormalizeRGBD (it needs colour values in 0..255); put it '
                    'right after the loading transforms.')
            bgr = np.clip(np.rint(img[..., 2::-1]), 0, 255).astype(np.uint8)
            colour = super().transform(dict(img=bgr))['img']
            img = img.copy()
            img[..., :3] = colour[..., ::-1]
            results['img'] = img
            return results
        raise ValueError('RGBOnlyPhotoMetricDistortion expects a [H, W, 3] '
                         f'or [H, W, 4] image, got shape {img.shape}.')


MMSEG_TRANSFORMS.register_module(module=RGBOnlyPhotoMetricDistortion)
