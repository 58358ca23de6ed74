"""The proxy of C2KD: a small classification head on a member's feature."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS


@MODELS.register_module()
class ProxyHead(nn.Module):
    """``Linear(C, C) -> BatchNorm1d -> LeakyReLU(0.1) -> Linear(C, K)``.

    The proxy networks of C2KD (Huo et al., "C2KD: Bridging the Modality
    Gap for Cross-Modal Knowledge Distillation", CVPR 2024, Sec. 3, the
    proxy student and proxy teacher), in the form of the MST reference
    release's ``ProxyNet1D`` / ``ProxyNet`` (``KD_methods/C2KD.py``): a
    feature map ``(B, C, *spatial)`` is average-pooled to ``(B, C)`` first
    (``ProxyNet``'s pooling, its 1x1 convolution on a 1x1 map being the
    first linear layer). Kaiming-normal (fan-out) weights, zero biases, as
    the release. A training batch of one sample normalises with the running
    statistics (BatchNorm cannot estimate a variance from one sample).

    Inside a distiller ``in_channels`` comes from the ``source`` record and
    ``out_channels`` (the number of classes) from the ``target`` record
    (declare the member's logits, e.g. ``target='audio:'``).

    Args:
        in_channels (int): Feature width ``C``.
        out_channels (int): Number of classes ``K``.
        negative_slope (float): Of the LeakyReLU. Defaults to 0.1.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 negative_slope: float = 0.1):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.negative_slope = negative_slope
        self.fc1 = nn.Linear(in_channels, in_channels)
        self.bn = nn.BatchNorm1d(in_channels)
        self.fc2 = nn.Linear(in_channels, out_channels)
        for fc in (self.fc1, self.fc2):
            nn.init.kaiming_normal_(fc.weight, mode='fan_out',
                                    nonlinearity='relu')
            nn.init.zeros_(fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() > 2:
            x = x.flatten(2).mean(2)
        x = self.fc1(x)
        if self.training and x.shape[0] == 1:
            x = F.batch_norm(x, self.bn.running_mean, self.bn.running_var,
                             self.bn.weight, self.bn.bias, False, 0.0,
                             self.bn.eps)
        else:
            x = self.bn(x)
        return self.fc2(F.leaky_relu(x, self.negative_slope))
