"""The VGG16 encoder of FuseNet (one stream: RGB, depth, or a branch net).

Stage ``i`` is ``block{i}`` (``num_convs[i]`` x conv3x3 + norm + ReLU) then a
2x2 max-pool that keeps its indices for the decoder's unpooling, then
dropout on the stages listed in ``dropout_stages`` (FuseNet: after pool3,
pool4 and pool5). The stages are exposed one at a time
(:meth:`VGGEncoder.forward_block`, :meth:`VGGEncoder.pool`) so that FuseNet
can fuse the depth stream into the RGB stream between a block and its pool.
"""
from collections import OrderedDict
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor

from mstkd.utils.errors import UserInputError

VGG16_CHANNELS = (64, 128, 256, 512, 512)
VGG16_NUM_CONVS = (2, 2, 3, 3, 3)


def conv_norm_act(in_channels: int, out_channels: int,
                  norm_cfg: Optional[dict]) -> nn.Sequential:
    """``conv`` (3x3, padding 1, with bias as in VGG16) -> norm -> ReLU.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        norm_cfg (dict, optional): mmcv norm config (``dict(type='BN')``);
            None leaves the norm out.

    Returns:
        nn.Sequential: Children ``conv``, the norm (``bn``, ``gn``, ...)
        when there is one, and ``relu``.
    """
    layers = [('conv', nn.Conv2d(in_channels, out_channels, 3, padding=1))]
    if norm_cfg is not None:
        layers.append(build_norm_layer(norm_cfg, out_channels))
    layers.append(('relu', nn.ReLU(inplace=True)))
    return nn.Sequential(OrderedDict(layers))


def check_stages(channels: Sequence[int], num_convs: Sequence[int]) -> None:
    """Validate an encoder's stage widths and depths.

    Args:
        channels (Sequence[int]): Output channels of every stage.
        num_convs (Sequence[int]): Convolutions of every stage.

    Raises:
        UserInputError: If the lengths differ, or a value is not positive.
    """
    if len(channels) != len(num_convs) or not channels:
        raise UserInputError(
            f'channels {tuple(channels)} and num_convs {tuple(num_convs)} '
            'must have the same (non-zero) length: one entry per stage, '
            f'e.g. VGG16: channels={VGG16_CHANNELS}, '
            f'num_convs={VGG16_NUM_CONVS}.')
    if min(channels) < 1 or min(num_convs) < 1:
        raise UserInputError(f'channels {tuple(channels)} and num_convs '
                             f'{tuple(num_convs)} must be positive.')


class EncoderOutput(NamedTuple):
    """What the decoder needs from an encoder.

    Attributes:
        bottom (Tensor): The pooled (and dropped-out) output of the last
            stage, ``(B, C_last, H / 2^N, W / 2^N)``.
        indices (list[Tensor]): Max-pool indices of stages ``1..N``.
        sizes (list[torch.Size]): Spatial sizes before each pool (the
            unpooling output sizes).
    """
    bottom: Tensor
    indices: List[Tensor]
    sizes: List[torch.Size]


class VGGEncoder(nn.Module):
    """A VGG encoder: stages ``block1..blockN`` with max-pool indices.

    Layer paths: ``block{i}`` (output = the stage's last ReLU, before the
    pool; a single tensor that a MaskNet hook can replace), and inside it
    ``block{i}.{j}.conv`` / ``.bn`` / ``.relu``.

    Args:
        in_channels (int): Input channels (3 for RGB, 1 for depth).
        channels (Sequence[int]): Output channels per stage. Defaults to
            VGG16's (64, 128, 256, 512, 512).
        num_convs (Sequence[int]): Convolutions per stage. Defaults to
            VGG16's (2, 2, 3, 3, 3).
        norm_cfg (dict, optional): Norm after every conv. Defaults to
            ``dict(type='BN')`` (FuseNet).
        dropout_ratio (float): Dropout after the pools of
            ``dropout_stages``. Defaults to 0.5 (FuseNet).
        dropout_stages (Sequence[int]): 1-based stages followed by dropout.
            Defaults to (3, 4, 5) (FuseNet's ``encdrop3..5``).
    """

    def __init__(self,
                 in_channels: int,
                 channels: Sequence[int] = VGG16_CHANNELS,
                 num_convs: Sequence[int] = VGG16_NUM_CONVS,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 dropout_ratio: float = 0.5,
                 dropout_stages: Sequence[int] = (3, 4, 5)):
        super().__init__()
        check_stages(channels, num_convs)
        self.in_channels = in_channels
        self.channels = tuple(channels)
        self.num_convs = tuple(num_convs)
        self.num_stages = len(channels)
        self.dropout_stages = tuple(dropout_stages)
        prev = in_channels
        for i, (width, convs) in enumerate(zip(channels, num_convs), 1):
            layers = []
            for _ in range(convs):
                layers.append(conv_norm_act(prev, width, norm_cfg))
                prev = width
            self.add_module(f'block{i}', nn.Sequential(*layers))
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 \
            else nn.Identity()

    def block(self, i: int) -> nn.Sequential:
        """The conv stack of stage ``i`` (1-based)."""
        return getattr(self, f'block{i}')

    def forward_block(self, i: int, x: Tensor) -> Tensor:
        """Run the conv stack of stage ``i`` (1-based), before its pool."""
        return self.block(i)(x)

    def pool(self, i: int, x: Tensor) -> Tuple[Tensor, Tensor]:
        """2x2 max-pool of stage ``i``'s output, then its dropout.

        Args:
            i (int): 1-based stage.
            x (Tensor): The stage's (possibly fused) output.

        Returns:
            tuple[Tensor, Tensor]: Pooled feature and the max-pool indices
            (flat ``H * W`` positions, as :func:`F.max_unpool2d` takes them).
        """
        out, indices = F.max_pool2d(x, 2, 2, return_indices=True)
        if i in self.dropout_stages:
            out = self.dropout(out)
        return out, indices

    def forward(self, x: Tensor) -> EncoderOutput:
        """All stages, each pooled.

        Args:
            x (Tensor): ``(B, in_channels, H, W)``.

        Returns:
            EncoderOutput: The pooled last stage, the indices and the sizes.
        """
        indices, sizes = [], []
        for i in range(1, self.num_stages + 1):
            x = self.forward_block(i, x)
            sizes.append(x.shape[-2:])
            x, idx = self.pool(i, x)
            indices.append(idx)
        return EncoderOutput(x, indices, sizes)

    def convs(self) -> List[nn.Conv2d]:
        """The convolutions in forward order."""
        return [m for m in self.modules() if isinstance(m, nn.Conv2d)]

    def norms(self) -> List[nn.Module]:
        """The norm layers in forward order (empty without norms)."""
        return [
            layer[1] for i in range(1, self.num_stages + 1)
            for layer in self.block(i) if len(layer) == 3
        ]
