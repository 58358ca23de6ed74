"""FuseNet's decoder: SegNet-style max-unpooling with the encoder's indices.

Decoder block ``k`` mirrors encoder stage ``s = N + 1 - k``: it unpools to
that stage's resolution, putting every value back at the position its
max-pool took it from (zeros elsewhere), then runs as many conv3x3 + norm +
ReLU as the stage has, the last one narrowing to the previous stage's width.
Block ``N`` (full resolution) has one conv less: the classifier (a 3x3 conv
to the classes, FuseNet's ``score``) takes its place.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .vgg_encoder import (VGG16_CHANNELS, VGG16_NUM_CONVS, check_stages,
                          conv_norm_act)


class UnpoolBlock(nn.Module):
    """2x2 max-unpooling with given indices, then conv + norm + ReLU layers.

    A module of its own so that its output (one tensor) has a layer path.

    Args:
        in_channels (int): Input channels (unchanged by the unpooling).
        widths (Sequence[int]): Output channels of the convs, in order
            (empty: unpooling only).
        norm_cfg (dict, optional): Norm after every conv.
    """

    def __init__(self, in_channels: int, widths: Sequence[int],
                 norm_cfg: Optional[dict]):
        super().__init__()
        layers, prev = [], in_channels
        for width in widths:
            layers.append(conv_norm_act(prev, width, norm_cfg))
            prev = width
        self.convs = nn.Sequential(*layers)
        self.out_channels = prev

    def forward(self, x: Tensor, indices: Tensor,
                output_size: torch.Size) -> Tensor:
        """Unpool to ``output_size`` at ``indices``, then convolve.

        Args:
            x (Tensor): ``(B, C, h, w)``.
            indices (Tensor): The matching max-pool's indices, ``(B, C, h,
                w)``.
            output_size (torch.Size): ``(H, W)`` before that max-pool.

        Returns:
            Tensor: ``(B, out_channels, H, W)``.
        """
        x = F.max_unpool2d(x, indices, 2, 2, output_size=tuple(output_size))
        return self.convs(x)


class UnpoolDecoder(nn.Module):
    """Decoder ``block1..blockN`` (coarse to fine) + ``classifier``.

    Layer paths: ``block{k}`` (unpool + convs; block 1 is the first after the
    encoder's bottleneck, at ``H / 2^(N-1)``), ``classifier``.

    Args:
        num_classes (int): Output channels of the classifier.
        channels (Sequence[int]): The encoder's stage widths. Defaults to
            VGG16's.
        num_convs (Sequence[int]): The encoder's convs per stage. Defaults to
            VGG16's.
        norm_cfg (dict, optional): Defaults to ``dict(type='BN')``.
        dropout_ratio (float): Dropout after the blocks of
            ``dropout_blocks``. Defaults to 0.5 (FuseNet).
        dropout_blocks (Sequence[int]): 1-based decoder blocks followed by
            dropout. Defaults to (1, 2, 3) (FuseNet's ``decdrop5..3``).
    """

    def __init__(self,
                 num_classes: int,
                 channels: Sequence[int] = VGG16_CHANNELS,
                 num_convs: Sequence[int] = VGG16_NUM_CONVS,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 dropout_ratio: float = 0.5,
                 dropout_blocks: Sequence[int] = (1, 2, 3)):
        super().__init__()
        check_stages(channels, num_convs)
        self.num_blocks = len(channels)
        self.dropout_blocks = tuple(dropout_blocks)
        prev = channels[-1]
        for k in range(1, self.num_blocks + 1):
            s = self.num_blocks - k  # 0-based encoder stage mirrored
            if s > 0:
                widths = [channels[s]] * (num_convs[s] - 1) + \
                    [channels[s - 1]]
            else:
                widths = [channels[0]] * (num_convs[0] - 1)
            block = UnpoolBlock(prev, widths, norm_cfg)
            self.add_module(f'block{k}', block)
            prev = block.out_channels
        self.classifier = nn.Conv2d(prev, num_classes, 3, padding=1)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 \
            else nn.Identity()

    def forward(self, x: Tensor, indices: List[Tensor],
                sizes: List[torch.Size]) -> Tensor:
        """Decode the bottleneck feature to logits.

        Args:
            x (Tensor): The encoder's pooled last stage.
            indices (list[Tensor]): Max-pool indices of encoder stages
                ``1..N`` (encoder order).
            sizes (list[torch.Size]): Sizes before those pools.

        Returns:
            Tensor: Logits ``(B, num_classes, H, W)`` at the size before the
            first pool (the input size).
        """
        for k in range(1, self.num_blocks + 1):
            s = self.num_blocks - k
            x = getattr(self, f'block{k}')(x, indices[s], sizes[s])
            if k in self.dropout_blocks:
                x = self.dropout(x)
        return self.classifier(x)
