"""OFA's projector from an intermediate student feature to logit space."""
from typing import Optional, Sequence

import torch.nn as nn
from torch import Tensor

from mstkd.registry import MODELS


def sep_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Depthwise-separable block downsampling by 2 (DARTS' ``SepConv``, the
    block of OFA's convolutional projector)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, stride=2, padding=1,
                  groups=in_channels, bias=False),
        nn.Conv2d(in_channels, in_channels, 1, bias=False),
        nn.BatchNorm2d(in_channels), nn.ReLU(inplace=False),
        nn.Conv2d(in_channels, in_channels, 3, padding=1,
                  groups=in_channels, bias=False),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=False))


@MODELS.register_module()
class OFAProjector(nn.Module):
    """Maps a student feature to ``out_channels`` logits (Hao et al.,
    "One-for-All: Bridge the Gap Between Heterogeneous Architectures in
    Knowledge Distillation", NeurIPS 2023, Sec. 3: every branch of the
    student gets a projector into the logit space, where distillation is
    architecture-agnostic).

    A feature map ``(B, C, H, W)``: two ``SepConv`` blocks (``C -> 2C ->
    hidden``), global average pooling, ``Linear(hidden, out_channels)``. A
    vector ``(B, C)``: ``Linear(C, hidden) -> ReLU -> Linear(hidden,
    out_channels)``. These are the MST reference release's ``Projector`` and
    ``Projector_1D`` (``KD_methods/OFA.py``) with ``hidden = 2 x classes``;
    weights initialised as there (Kaiming for convolutions, truncated normal
    std 0.02 for linear layers).

    Inside a distiller ``in_channels``, ``in_size`` (from the ``source``
    record) and ``out_channels`` (the ``target`` record: the teacher's
    logits) are filled in from a dry forward.

    Args:
        in_channels (int): Channels (or width) of the student feature.
        out_channels (int): Number of classes.
        in_size (Sequence[int], optional): Spatial size of a feature map;
            None or empty for a vector. Defaults to None.
        hidden_channels (int, optional): Defaults to ``2 * out_channels``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 in_size: Optional[Sequence[int]] = None,
                 hidden_channels: Optional[int] = None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        hidden = hidden_channels or 2 * out_channels
        in_size = tuple(in_size or ())
        if len(in_size) == 2:
            self.blocks = nn.Sequential(
                sep_conv(in_channels, 2 * in_channels),
                sep_conv(2 * in_channels, hidden),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                nn.Linear(hidden, out_channels))
        elif len(in_size) == 0:
            self.blocks = nn.Sequential(
                nn.Linear(in_channels, hidden), nn.ReLU(),
                nn.Linear(hidden, out_channels))
        else:
            raise ValueError(
                f'OFAProjector takes (B, C) vectors or (B, C, H, W) maps; '
                f'the source has spatial size {in_size}.')
        self.init_weights()

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out',
                                        nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                # timm's trunc_normal_ of the release: cut at +-2 (absolute)
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x)
