"""A linear map between feature vectors."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS


@MODELS.register_module()
class LinearConnector(nn.Module):
    """``Linear(in_channels, out_channels)`` on ``(B, C)`` features (a
    feature map is flattened first), e.g. the FitNets regressor between a
    student and a teacher vector, or with ``l2_normalize`` the embedding
    head of CRD (Tian et al., ICLR 2020, Sec. 3.2: a linear map to the
    critic space, then L2 normalisation) and of the MST release's RKD.

    Inside a distiller both widths are filled in from a dry forward of the
    connector's ``source`` and ``target`` records.

    Args:
        in_channels (int): Width of the student feature.
        out_channels (int): Width of the teacher feature.
        bias (bool): Defaults to True.
        l2_normalize (bool): Divide each output row by its L2 norm.
            Defaults to False.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 bias: bool = True,
                 l2_normalize: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.l2_normalize = l2_normalize
        self.fc = nn.Linear(in_channels, out_channels, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        out = self.fc(x.flatten(1))
        return F.normalize(out, p=2, dim=1) if self.l2_normalize else out
