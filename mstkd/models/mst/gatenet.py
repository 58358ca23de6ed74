"""GateNet: the routing network of dynamic knowledge distillation."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mstkd.registry import MODELS

_ACTIVATIONS = {'relu': nn.ReLU, 'gelu': nn.GELU, 'tanh': nn.Tanh}


@MODELS.register_module()
class GateNet(nn.Module):
    """MLP router over the specialized teachers (Eq. 11-13).

    ``Linear(C, hidden) -> act -> Linear(hidden, N)`` applied to the student
    logits ``Z_out`` (Eq. 11). :meth:`forward` returns the raw scores;
    :meth:`route` applies the softmax of Eq. 12 and the top-k rule of Eq. 13.

    Args:
        in_channels (int): Input width, i.e. the number of classes ``C``.
        num_teachers (int): Number ``N`` of specialized teachers.
        hidden_channels (int, optional): Hidden width. Defaults to
            ``2 * in_channels``.
        act (str, optional): ``'relu'``, ``'gelu'``, ``'tanh'`` or ``None``.
            ``None`` reproduces the reference release (two stacked linear
            layers, no activation). Defaults to ``'relu'``.
    """

    def __init__(self,
                 in_channels: int,
                 num_teachers: int,
                 hidden_channels: Optional[int] = None,
                 act: Optional[str] = 'relu') -> None:
        super().__init__()
        if act is not None and act not in _ACTIVATIONS:
            raise ValueError(f'act must be one of {sorted(_ACTIVATIONS)} or '
                             f'None, got {act!r}')
        hidden_channels = hidden_channels or 2 * in_channels
        self.in_channels = in_channels
        self.num_teachers = num_teachers
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden_channels),
            _ACTIVATIONS[act]() if act is not None else nn.Identity(),
            nn.Linear(hidden_channels, num_teachers))

    def forward(self, logits: Tensor) -> Tensor:
        """Raw routing scores ``GateNet(Z_out)`` (inside Eq. 12).

        Args:
            logits (Tensor): Student logits ``(B, C)``.

        Returns:
            Tensor: Scores ``(B, N)`` before the softmax.
        """
        return self.mlp(logits)

    def route(self, logits: Tensor, k: int) -> Tuple[Tensor, Tensor]:
        """Confidence scores (Eq. 12) and the top-k teachers (Eq. 13).

        Args:
            logits (Tensor): Student logits (shape accepted by
                :meth:`forward`).
            k (int): Number of teachers selected per sample.

        Returns:
            tuple[Tensor, Tensor]: ``probs`` ``(B, N)`` (softmax of the
            scores) and ``topk_idx`` ``(B, k)`` in descending confidence.
        """
        if not 1 <= k <= self.num_teachers:
            raise ValueError(f'k must be in [1, {self.num_teachers}], got {k}')
        probs = torch.softmax(self(logits), dim=1)
        return probs, probs.topk(k, dim=1).indices


@MODELS.register_module()
class DenseGateNet(GateNet):
    """GateNet for dense prediction: one routing decision per image.

    - ``arch='pooled_mlp'`` (default): the logit map ``(B, C, *spatial)`` is
      globally average-pooled to ``(B, C)`` and routed by the same MLP as
      :class:`GateNet`. The paper's GateNet is an MLP on the student's
      logits (Eq. 11-12); pooling first is mstkd's reading for a map.
    - ``arch='conv'`` (the reference release's ``GateNet_dense`` in
      ``KD_methods/MST.py``): 1x1 conv ``C -> hidden`` -> ReLU -> depthwise
      3x3 stride-2 conv -> ReLU -> global average pool -> ``Linear(hidden,
      N)`` on the full-resolution logit map (``act`` does not apply).

    Args:
        arch (str): ``'pooled_mlp'`` or ``'conv'``. Defaults to
            ``'pooled_mlp'``.
        Others: see :class:`GateNet`.
    """

    def __init__(self,
                 in_channels: int,
                 num_teachers: int,
                 hidden_channels: Optional[int] = None,
                 act: Optional[str] = 'relu',
                 arch: str = 'pooled_mlp') -> None:
        if arch not in ('pooled_mlp', 'conv'):
            raise ValueError(
                f"arch must be 'pooled_mlp' or 'conv', got {arch!r}")
        super().__init__(in_channels, num_teachers, hidden_channels, act)
        self.arch = arch
        if arch == 'conv':
            hidden = hidden_channels or 2 * in_channels
            self.mlp = None
            self.conv = nn.Sequential(
                nn.Conv2d(in_channels, hidden, 1), nn.ReLU(),
                nn.Conv2d(hidden, hidden, 3, stride=2, padding=1,
                          groups=hidden), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                nn.Linear(hidden, num_teachers))

    def forward(self, logits: Tensor) -> Tensor:
        """Raw per-image routing scores.

        Args:
            logits (Tensor): Student logit map ``(B, C, H, W)`` (with
                ``'pooled_mlp'`` also ``(B, C, *spatial)`` or ``(B, C)``).

        Returns:
            Tensor: Scores ``(B, N)``.
        """
        if self.arch == 'conv':
            if logits.dim() != 4:
                raise ValueError("DenseGateNet(arch='conv') needs (B, C, H, "
                                 f'W) logit maps, got {tuple(logits.shape)}')
            return self.conv(logits)
        pooled = logits.flatten(2).mean(-1) if logits.dim() > 2 else logits
        return self.mlp(pooled)
