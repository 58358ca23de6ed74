import torch
import torch.nn as nn
import torch.nn.functional as F

from mstkd.registry import MODELS
from .base import Inputs, UnimodalMember


@MODELS.register_module()
class LeNet5(UnimodalMember):
    """LeNet-5 for 28x28 images (AV-MNIST image member, paper Table 5).

    conv1 (6x28x28) -> pool -> conv2 (16x10x10) -> pool -> conv3 (120x1x1)
    -> fc1 (84) -> fc2 (classes). Named layers are hooked on their outputs,
    i.e. before the activation.

    Args:
        in_channels (int): Image channels. Defaults to 1.
        num_classes (int): Defaults to 10.
        modality (str): Defaults to 'image'.
        with_head (bool): Without it ``forward`` returns fc1's 84-d feature
            (after ReLU).
        pool (str): Subsampling after conv1 and conv2: ``'max'`` (default)
            or ``'avg'`` (LeNet-5's original average subsampling, which the
            public MST-Distill release uses for AV-MNIST).
    """

    def __init__(self,
                 in_channels: int = 1,
                 num_classes: int = 10,
                 modality: str = 'image',
                 with_head: bool = True,
                 pool: str = 'max'):
        super().__init__(modality, num_classes, with_head)
        pools = dict(max=F.max_pool2d, avg=F.avg_pool2d)
        if pool not in pools:
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        self.pool = pool
        self._pool = pools[pool]
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.conv3 = nn.Conv2d(16, 120, 5)
        self.fc1 = nn.Linear(120, 84)
        self.out_channels = 84
        if with_head:
            self.fc2 = nn.Linear(84, num_classes)

    def forward(self, inputs: Inputs) -> torch.Tensor:
        x = self.pick(inputs)
        x = self._pool(F.relu(self.conv1(x)), 2)
        x = self._pool(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x)).flatten(1)
        x = F.relu(self.fc1(x))
        return self.fc2(x) if self.with_head else x
