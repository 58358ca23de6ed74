"""A linear map between feature vectors."""
import torch.nn as nn
from torch import Tensor

from mstkd.registry import MODELS


@MODELS.register_module()
class LinearConnector(nn.Module):
    """``Linear(in_channels, out_channels)`` on ``(B, C)`` features (a
    feature map is flattened first), e.g. the FitNets regressor between a
    student and a teacher vector.

    Inside a distiller both widths are filled in from a dry forward of the
    connector's ``source`` and ``target`` records.

    Args:
        in_channels (int): Width of the student feature.
        out_channels (int): Width of the teacher feature.
        bias (bool): Defaults to True.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 bias: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.fc = nn.Linear(in_channels, out_channels, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x.flatten(1))
