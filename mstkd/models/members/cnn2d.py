from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mstkd.registry import MODELS
from .base import Inputs, UnimodalMember


@MODELS.register_module()
class CNN2d(UnimodalMember):
    """A plain 2-D CNN: ``conv{i}`` (3x3) -> ReLU -> 2x2 max-pool, then global
    average pooling and a linear head ``fc``.

    The paper's AV-MNIST audio member is ``CNN2d(channels=(32, 64, 128))``
    (ThreeLayerCNN-2D: conv2 gives 64x56x56 and conv3 128x28x28 on 112x112
    spectrograms); the multimodal net's audio trunk is the five-layer
    ``CNN2d(channels=(32, 64, 128, 256, 512), pool_last=True,
    with_head=False)``.

    Args:
        in_channels (int): Input channels. Defaults to 1.
        channels (Sequence[int]): Output channels of each conv layer.
        num_classes (int): Defaults to 10.
        modality (str): Defaults to 'audio'.
        with_head (bool): Without it ``forward`` returns the pooled feature.
        pool_last (bool): Also max-pool after the last conv. Defaults to False.
        stem_stride (int): Stride of ``conv1``. The paper's nets use 1; the
            AV-Digits configs use 2 to fit a laptop CPU (4x fewer
            operations; every later feature map is halved). Defaults to 1.
        pool_size (int): The last feature map is average-pooled to
            ``pool_size x pool_size`` and flattened before ``fc``. 1 is
            global average pooling; a small grid (AV-Digits: 4) keeps where
            in time and frequency a pattern occurs, which spoken digits need
            when the receptive field is short. Defaults to 1.
    """

    def __init__(self,
                 in_channels: int = 1,
                 channels: Sequence[int] = (32, 64, 128),
                 num_classes: int = 10,
                 modality: str = 'audio',
                 with_head: bool = True,
                 pool_last: bool = False,
                 stem_stride: int = 1,
                 pool_size: int = 1):
        super().__init__(modality, num_classes, with_head)
        self.num_layers = len(channels)
        self.pool_last = pool_last
        for i, (cin, cout) in enumerate(
                zip((in_channels, *channels[:-1]), channels), start=1):
            stride = stem_stride if i == 1 else 1
            self.add_module(f'conv{i}',
                            nn.Conv2d(cin, cout, 3, stride, padding=1))
        self.pool_size = pool_size
        self.out_channels = channels[-1] * pool_size**2
        if with_head:
            self.fc = nn.Linear(self.out_channels, num_classes)

    def forward(self, inputs: Inputs) -> torch.Tensor:
        x = self.pick(inputs)
        for i in range(1, self.num_layers + 1):
            x = F.relu(getattr(self, f'conv{i}')(x))
            if i < self.num_layers or self.pool_last:
                x = F.max_pool2d(x, 2)
        x = torch.flatten(F.adaptive_avg_pool2d(x, self.pool_size), 1)
        return self.fc(x) if self.with_head else x
