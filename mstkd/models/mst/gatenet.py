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

    The logit map ``(B, C, *spatial)`` (e.g. ``(B, C, H, W)``) is globally
    average-pooled to ``(B, C)`` and routed by the same MLP as
    :class:`GateNet`, giving per-image scores ``(B, N)``.

    Args: see :class:`GateNet`.
    """

    def forward(self, logits: Tensor) -> Tensor:
        """Raw per-image routing scores.

        Args:
            logits (Tensor): Student logit map ``(B, C, *spatial)`` (a plain
                ``(B, C)`` input is accepted as well).

        Returns:
            Tensor: Scores ``(B, N)``.
        """
        pooled = logits.flatten(2).mean(-1) if logits.dim() > 2 else logits
        return self.mlp(pooled)
