from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mstkd.registry import MODELS
from .base import Inputs, UnimodalMember


@MODELS.register_module()
class MLP(UnimodalMember):
    """``fc1`` -> ReLU -> ... -> ``fc{n}`` on feature vectors (CrisisMMD
    members, paper Table 5: 2048 -> 1024 -> 512 (image), 768 -> 1024 -> 512
    (text), then a classifier ``fc{n+1}``).

    Args:
        in_channels (int): Input feature size.
        hidden_channels (Sequence[int]): Widths of the hidden layers.
        num_classes (int): Classes of the head.
        modality (str): The input's key in a batch.
        with_head (bool): Without it ``forward`` returns the last hidden
            feature (after ReLU).
        dropout (float): Dropout after every hidden layer. Defaults to 0.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: Sequence[int] = (1024, 512),
                 num_classes: int = 8,
                 modality: str = 'image',
                 with_head: bool = True,
                 dropout: float = 0.0):
        super().__init__(modality, num_classes, with_head)
        dims = (in_channels, *hidden_channels)
        self.num_hidden = len(hidden_channels)
        for i in range(self.num_hidden):
            self.add_module(f'fc{i + 1}', nn.Linear(dims[i], dims[i + 1]))
        self.dropout = nn.Dropout(dropout)
        self.out_channels = dims[-1]
        if with_head:
            self.add_module(f'fc{self.num_hidden + 1}',
                            nn.Linear(dims[-1], num_classes))

    def forward(self, inputs: Inputs) -> torch.Tensor:
        x = self.pick(inputs).flatten(1)
        for i in range(1, self.num_hidden + 1):
            x = self.dropout(F.relu(getattr(self, f'fc{i}')(x)))
        if self.with_head:
            x = getattr(self, f'fc{self.num_hidden + 1}')(x)
        return x
