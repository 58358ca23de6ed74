"""Cross-entropy on labels (MST-Distill Eq. 1 and 15; every task loss)."""
from typing import Union

import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss


@MODELS.register_module()
class CrossEntropyLoss(BaseLoss):
    """Batch-mean cross-entropy of logits ``(B, C[, *spatial])`` against
    labels ``(B[, *spatial])``.

    Inside a distiller, ``ignore_index`` comes from the task (255 for
    :class:`~mstkd.models.task_modules.SegTask`: void pixels are ignored).

    Args:
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_ce'``.
    """

    def __init__(self, loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_ce'):
        super().__init__(loss_weight, loss_name)

    def forward(self, logits: Tensor, labels: Tensor,
                ignore_index: int = -100) -> Tensor:
        return self.loss_weight * F.cross_entropy(
            logits, labels, ignore_index=ignore_index)
