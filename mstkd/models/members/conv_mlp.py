"""A conv trunk followed by an MLP: what CNN1d and CNN3d share."""
import math
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.fx._symbolic_trace import is_fx_symbolic_tracing

from mstkd.utils.errors import UserInputError
from .base import Inputs, UnimodalMember

IntOrSeq = Union[int, Sequence[int]]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {
    1: F.adaptive_avg_pool1d,
    2: F.adaptive_avg_pool2d,
    3: F.adaptive_avg_pool3d
}


def _as_tuple(value: IntOrSeq, n: int, name: str) -> Tuple[int, ...]:
    if isinstance(value, int):
        return (value, ) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise UserInputError(f'{name} needs {n} values, got {value}.')
    return value


class ConvMLPMember(UnimodalMember):
    """``conv{i}`` -> ``bn{i}`` -> ReLU -> max-pool (per conv layer), an
    adaptive average pool to a fixed grid, flatten, then the MLP
    ``fc1`` -> ReLU -> ... -> ``fc{n+1}`` (logits).

    Subclasses set ``conv_dims`` (1, 2 or 3). The grid ``pool_size`` fixes
    the width of the flattened feature whatever the input size, so no layer
    width depends on the input resolution; when the last feature map
    already has the grid's size the pool is the identity (the reference
    release flattens the map as it is, which the members' default grids
    reproduce at the datasets' real input sizes).

    Named layers (hooked on their outputs, i.e. before the activation):
    ``conv1..convN``, ``bn1..bnN`` (with ``norm``), ``fc1..fc{n+1}``.

    Args:
        in_channels (int): Input channels.
        channels (Sequence[int]): Output channels of each conv layer.
        hidden_channels (Sequence[int]): Widths of the hidden fc layers.
        num_classes (int): Classes of the head.
        modality (str): The input's key in a batch.
        with_head (bool): False drops the whole MLP: ``forward`` returns the
            flattened conv feature of ``out_channels`` dimensions (the
            reference release's ``*_woHead`` branches of the late-fusion
            nets are the conv trunks alone).
        kernel_size (int): Conv kernel (stride 1, 'same' padding).
        norm (bool): BatchNorm after every conv. Defaults to True.
        pool_kernel (int): Max-pool kernel and stride after each conv.
        pool_last (bool): Also max-pool after the last conv.
        pool_size (int | Sequence[int]): Grid of the adaptive average pool
            before flattening (one value per spatial dimension).
        transpose_input (bool): Swap the last two input dimensions first
            (a ``[features, time]`` input read as ``[time, features]``).
    """

    conv_dims: int = 0

    def __init__(self,
                 in_channels: int,
                 channels: Sequence[int],
                 hidden_channels: Sequence[int],
                 num_classes: int,
                 modality: str,
                 with_head: bool = True,
                 kernel_size: int = 3,
                 norm: bool = True,
                 pool_kernel: int = 2,
                 pool_last: bool = True,
                 pool_size: IntOrSeq = 1,
                 transpose_input: bool = False):
        super().__init__(modality, num_classes, with_head)
        n = self.conv_dims
        if not channels:
            raise UserInputError('channels must name at least one conv layer.')
        self.in_channels = in_channels
        self.num_convs = len(channels)
        self.norm = norm
        self.pool_kernel = pool_kernel
        self.pool_last = pool_last
        self.pool_size = _as_tuple(pool_size, n, 'pool_size')
        self.transpose_input = transpose_input
        for i, (cin, cout) in enumerate(
                zip((in_channels, *channels[:-1]), channels), start=1):
            self.add_module(
                f'conv{i}',
                _CONV[n](cin, cout, kernel_size, padding=kernel_size // 2))
            if norm:
                self.add_module(f'bn{i}', _NORM[n](cout))
        self.out_channels = channels[-1] * math.prod(self.pool_size)
        self.num_fcs = len(hidden_channels) + 1
        if with_head:
            dims = (self.out_channels, *hidden_channels, num_classes)
            for i in range(self.num_fcs):
                self.add_module(f'fc{i + 1}', nn.Linear(dims[i], dims[i + 1]))

    def _check_input(self, x: torch.Tensor) -> None:
        n = self.conv_dims
        if x.dim() != n + 2 or x.shape[1] != self.in_channels:
            note = (' (after swapping its last two dims: transpose_input)'
                    if self.transpose_input else '')
            raise UserInputError(
                f'{type(self).__name__} ({self.modality}) expects a batch '
                f'[B, {self.in_channels}, <{n} dims>]{note}, got '
                f'{list(x.shape)}: check in_channels/transpose_input of '
                f'the member against the dataset.')

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        """The conv trunk.

        Args:
            x (torch.Tensor): ``[B, in_channels, *spatial]`` (the last two
                dims swapped when ``transpose_input``).

        Returns:
            torch.Tensor: ``[B, out_channels]``, the flattened feature.
        """
        if self.transpose_input:
            x = x.transpose(-1, -2)
        # shape checks are Python control flow: skipped while torch.fx
        # traces the member (S2 hook-point cache), run in every forward
        tracing = is_fx_symbolic_tracing()
        if not tracing:
            self._check_input(x)
        for i in range(1, self.num_convs + 1):
            x = getattr(self, f'conv{i}')(x)
            if self.norm:
                x = getattr(self, f'bn{i}')(x)
            x = F.relu(x)
            if i < self.num_convs or self.pool_last:
                if not tracing and min(x.shape[2:]) < self.pool_kernel:
                    raise UserInputError(
                        f'{type(self).__name__} ({self.modality}): the '
                        f'input is too small: conv{i} gives '
                        f'{list(x.shape[1:])}, which a {self.pool_kernel}-'
                        f'wide max-pool cannot reduce. Use larger inputs '
                        f'or fewer conv layers.')
                x = _MAX_POOL[self.conv_dims](x, self.pool_kernel)
        x = _AVG_POOL[self.conv_dims](x, self.pool_size)
        return x.flatten(1)

    def forward(self, inputs: Inputs) -> torch.Tensor:
        x = self.extract(self.pick(inputs))
        if not self.with_head:
            return x
        for i in range(1, self.num_fcs + 1):
            x = getattr(self, f'fc{i}')(x)
            if i < self.num_fcs:
                x = F.relu(x)
        return x
