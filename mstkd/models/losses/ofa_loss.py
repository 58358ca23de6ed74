"""OFA loss: the target-enhanced teacher distribution."""
from typing import List, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss


def ofa_loss(pred: Tensor, target: Tensor, labels: Tensor, eps: float,
             temperature: float = 1.0) -> Tensor:
    """``-sum_c ((p_t,c + 1[c = y])^eps - 1[c = y]) log p_s,c``, batch
    mean (Hao et al. 2023, Sec. 3, the OFA loss; ``ofa_loss`` of the
    authors' code).

    At ``eps = 1`` it is plain KD: ``KL(p_t || p_s)`` plus the teacher's
    entropy; ``eps > 1`` adds weight ``(p_t,y + 1)^eps - 1 - p_t,y^eps``
    to the target class, most where the teacher is confident.
    """
    onehot = F.one_hot(labels.long(), pred.shape[1]).to(pred.dtype)
    p_t = F.softmax(target / temperature, dim=1)
    log_p_s = F.log_softmax(pred / temperature, dim=1)
    weight = (p_t + onehot).pow(eps) - onehot
    return -(weight * log_p_s).sum(1).mean()


@MODELS.register_module()
class OFALoss(BaseLoss):
    """The OFA loss of every student branch's projected logits against the
    teacher's logits.

    Hao et al., "One-for-All: Bridge the Gap Between Heterogeneous
    Architectures in Knowledge Distillation", NeurIPS 2023, Sec. 3 (the
    loss with the modulating exponent, ``eps`` in the authors' code) over
    the student branches (projectors:
    :class:`~mstkd.models.connectors.OFAProjector`). The authors sum the
    branches (``reduction='sum'``) and add the same loss on the student's
    own logits (declare a second ``OFALoss`` mapped to them); the MST
    reference release (``KD_methods/OFA.py``) averages the branches
    (``reduction='mean'``), has no logit term and uses ``eps = 1.1``.

    Args:
        eps (float): The exponent. Defaults to 1.0.
        temperature (float): Defaults to 1.0.
        reduction (str): ``'sum'`` or ``'mean'`` over the branches.
            Defaults to ``'sum'``.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_ofa'``.
    """

    def __init__(self,
                 eps: float = 1.0,
                 temperature: float = 1.0,
                 reduction: str = 'sum',
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_ofa'):
        super().__init__(loss_weight, loss_name)
        if reduction not in ('sum', 'mean'):
            raise ValueError(f"OFALoss: reduction is 'sum' or 'mean', got "
                             f'{reduction!r}.')
        self.eps = eps
        self.temperature = temperature
        self.reduction = reduction

    def forward(self, preds: Union[Tensor, Sequence[Tensor]], target: Tensor,
                labels: Tensor) -> Tensor:
        branches: List[Tensor] = [preds] if isinstance(
            preds, Tensor) else list(preds)
        target = target.detach()
        for p in branches:
            if p.shape != target.shape:
                raise ValueError(
                    f'OFALoss: a branch gives {tuple(p.shape)} logits, the '
                    f'teacher {tuple(target.shape)}; project the feature '
                    'with an OFAProjector whose target is the teacher.')
        losses = torch.stack([
            ofa_loss(p, target, labels, self.eps, self.temperature)
            for p in branches])
        loss = losses.sum() if self.reduction == 'sum' else losses.mean()
        return self.loss_weight * loss
