"""A convolution between feature maps."""
from typing import Optional, Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS


@MODELS.register_module()
class ConvConnector(nn.Module):
    """``Conv(in_channels, out_channels, k)`` [+ BN] on ``(B, C, *spatial)``
    maps (1-D, 2-D or 3-D), optionally resized to the teacher's spatial size
    (FitNets' convolutional regressor, Romero et al. 2015, Sec. 2.2).

    Inside a distiller ``in_channels``, ``out_channels`` and ``out_size``
    are filled in from a dry forward of the ``source`` and ``target``
    records.

    Args:
        in_channels (int): Channels of the student map.
        out_channels (int): Channels of the teacher map.
        kernel_size (int): Defaults to 1 (padding keeps the size).
        norm (bool): BatchNorm after the convolution. Defaults to False.
        out_size (Sequence[int], optional): Spatial size to interpolate the
            output to (adaptive average pooling when
            smaller, bilinear/linear/trilinear when larger). Defaults to
            None (keep the size).
        in_size (Sequence[int], optional): The source's spatial size; it
            tells the dimensionality. Filled in by the distiller.
    """

    _CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
    _NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
    _MODE = {1: 'linear', 2: 'bilinear', 3: 'trilinear'}

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 norm: bool = False,
                 out_size: Optional[Sequence[int]] = None,
                 in_size: Optional[Sequence[int]] = None):
        super().__init__()
        dims = len(in_size) if in_size is not None else 2
        if dims not in self._CONV:
            raise ValueError(f'ConvConnector takes 1-D to 3-D maps, got a '
                             f'{dims}-D source')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.out_size = tuple(out_size) if out_size is not None else None
        self.dims = dims
        self.conv = self._CONV[dims](in_channels, out_channels, kernel_size,
                                     padding=kernel_size // 2)
        self.norm = self._NORM[dims](out_channels) if norm else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.conv(x))
        if self.out_size is None or tuple(x.shape[2:]) == self.out_size:
            return x
        if all(o <= i for o, i in zip(self.out_size, x.shape[2:])):
            pool = getattr(F, f'adaptive_avg_pool{self.dims}d')
            return pool(x, self.out_size)
        return F.interpolate(x, size=self.out_size,
                             mode=self._MODE[self.dims], align_corners=False)
