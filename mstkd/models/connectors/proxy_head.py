"""The proxy of C2KD: a small classification head on a member's feature."""
from typing import Optional, Sequence

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

    ``dense=True`` (segmentation): the same head on every cell of a feature
    map ``(B, C, *spatial)`` (the linear layers as 1x1 convolutions, the
    BatchNorm over the batch's cells, as ``BatchNorm2d``), giving a logit map
    ``(B, K, *spatial)`` that is interpolated (bilinear / linear /
    trilinear, ``align_corners=False``) to ``out_size``: inside a distiller
    the spatial size of the ``target`` record, i.e. the member's logit maps,
    so that the proxy's per-pixel terms run at the label resolution (the
    release's ``ProxyNet_resoFixed`` for NYU-Depth-V2, there with a ReLU and
    the upsampling to 480 x 640).

    Args:
        in_channels (int): Feature width ``C``.
        out_channels (int): Number of classes ``K``.
        negative_slope (float): Of the LeakyReLU. Defaults to 0.1.
        dense (bool): Keep the spatial dims (see above). Defaults to False
            (a map is average-pooled first).
        out_size (Sequence[int], optional): ``dense`` only: the output's
            spatial size; None keeps the feature's. Filled in by the
            distiller from the ``target`` record.
        in_size (Sequence[int], optional): The source's spatial size; filled
            in by the distiller (unused).
    """

    _MODE = {1: 'linear', 2: 'bilinear', 3: 'trilinear'}

    def __init__(self, in_channels: int, out_channels: int,
                 negative_slope: float = 0.1, dense: bool = False,
                 out_size: Optional[Sequence[int]] = None,
                 in_size: Optional[Sequence[int]] = None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.negative_slope = negative_slope
        self.dense = dense
        self.out_size = tuple(out_size) if dense and out_size is not None \
            else None
        self.fc1 = nn.Linear(in_channels, in_channels)
        self.bn = nn.BatchNorm1d(in_channels)
        self.fc2 = nn.Linear(in_channels, out_channels)
        for fc in (self.fc1, self.fc2):
            nn.init.kaiming_normal_(fc.weight, mode='fan_out',
                                    nonlinearity='relu')
            nn.init.zeros_(fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.dense:
            return self._dense(x)
        if x.dim() > 2:
            x = x.flatten(2).mean(2)
        return self.forward_flat(x)

    def _dense(self, x: Tensor) -> Tensor:
        if not 3 <= x.dim() <= 5:
            raise ValueError(
                f'ProxyHead(dense=True) takes (B, C, *spatial) feature maps '
                f'with 1-3 spatial dims, got {tuple(x.shape)}; use '
                'dense=False for vector features.')
        cells = x.movedim(1, -1)  # (B, *spatial, C)
        out = self.forward_flat(cells.reshape(-1, x.shape[1]))
        out = out.view(*cells.shape[:-1], -1).movedim(-1, 1)
        if self.out_size is None or tuple(out.shape[2:]) == self.out_size:
            return out
        return F.interpolate(out, size=self.out_size,
                             mode=self._MODE[out.dim() - 2],
                             align_corners=False)

    def forward_flat(self, x: Tensor) -> Tensor:
        """The head on ``(N, C)`` rows (``N`` samples or cells)."""
        x = self.fc1(x)
        if self.training and x.shape[0] == 1:
            x = F.batch_norm(x, self.bn.running_mean, self.bn.running_var,
                             self.bn.weight, self.bn.bias, False, 0.0,
                             self.bn.eps)
        else:
            x = self.bn(x)
        return self.fc2(F.leaky_relu(x, self.negative_slope))
