"""Knowledge distillation from the teachers a router selected (MST-Distill
Eq. 14)."""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import SoftenedKLLoss
from .utils import pointwise_kl, reduce_loss


def _stack_teachers(teacher_logits: Union[Tensor, Sequence[Tensor]],
                    student_logits: Tensor) -> Tensor:
    if not isinstance(teacher_logits, Tensor):
        teacher_logits = torch.stack(list(teacher_logits))
    if teacher_logits.shape[1:] != student_logits.shape:
        raise ValueError(f'teacher logits {tuple(teacher_logits.shape)} must '
                         f'be (N, *{tuple(student_logits.shape)})')
    return teacher_logits


def routed_kd(student_logits: Tensor,
              teacher_logits: Union[Tensor, Sequence[Tensor]],
              topk_idx: Tensor,
              temperature: float = 1.0,
              scale_by_t2: bool = True,
              reduction: str = 'mean',
              valid_mask: Optional[Tensor] = None,
              normalize: str = 'valid') -> Tensor:
    """Per sample ``sum_{j in topk} KL(Q_j || P_student)`` (Eq. 14), then the
    batch mean; the teachers are detached.

    Args:
        student_logits (Tensor): ``(B, C)`` or dense ``(B, C, *spatial)``.
        teacher_logits (Tensor | Sequence[Tensor]): All teachers stacked,
            ``(N, B, C[, *spatial])``.
        topk_idx (Tensor): Selected teachers per sample ``(B, k)`` (Eq. 13;
            per image for dense inputs).
        temperature, scale_by_t2: See
            :func:`~mstkd.models.losses.utils.kl_divergence`.
        reduction, valid_mask, normalize: See
            :func:`~mstkd.models.losses.utils.reduce_loss`.

    Returns:
        Tensor: The reduced loss.
    """
    teachers = _stack_teachers(teacher_logits, student_logits)
    batch, k = topk_idx.shape
    rows = torch.arange(batch, device=topk_idx.device).unsqueeze(1)
    selected = teachers.detach().transpose(0, 1)[rows, topk_idx]  # (B, k, ..)
    student = student_logits.unsqueeze(1).expand_as(selected)
    kl = pointwise_kl(
        selected.flatten(0, 1), student.flatten(0, 1), temperature,
        scale_by_t2)
    kl = kl.view(batch, k, *kl.shape[1:]).sum(1)
    return reduce_loss(kl, reduction, valid_mask, normalize)


def weighted_kd(student_logits: Tensor,
                teacher_logits: Union[Tensor, Sequence[Tensor]],
                weights: Tensor,
                temperature: float = 1.0,
                scale_by_t2: bool = True,
                reduction: str = 'mean',
                valid_mask: Optional[Tensor] = None,
                normalize: str = 'valid') -> Tensor:
    """Per sample ``sum_j w_j KL(Q_j || P_student)`` over every teacher,
    then the batch mean; the teachers are detached, the weights are not
    (so a gate that produced them gets the distillation gradient).

    Args:
        weights (Tensor): ``(B, N)`` per-sample teacher weights (one per
            image for dense inputs).
        Others: See :func:`routed_kd`.
    """
    teachers = _stack_teachers(teacher_logits, student_logits).detach()
    num, batch = teachers.shape[:2]
    if weights.shape != (batch, num):
        raise ValueError(f'weights {tuple(weights.shape)} must be (B, N) = '
                         f'{(batch, num)}')
    student = student_logits.unsqueeze(0).expand_as(teachers)
    kl = pointwise_kl(teachers.flatten(0, 1), student.flatten(0, 1),
                      temperature, scale_by_t2)
    kl = kl.view(num, batch, *kl.shape[1:])  # (N, B, *spatial)
    w = weights.t().reshape(num, batch, *([1] * (kl.dim() - 2)))
    return reduce_loss((w * kl).sum(0), reduction, valid_mask, normalize)


@MODELS.register_module()
class RoutedKDLoss(SoftenedKLLoss):
    """Routed knowledge distillation (MST-Distill Eq. 14).

    ``topk_idx`` ``(B, k)`` selects each sample's teachers (the GateNet's
    top-k, Eq. 13); the loss sums their KL to the student, as Eq. 14
    writes (``topk_reduction='sum'``), and averages over the batch. The
    reference release averages the k terms instead (``'mean'``:
    ``k_ways_MTGdistillation_detached`` in ``KD_methods/MST.py`` returns
    ``loss / k``); both agree at k = 1. Without ``topk_idx`` every teacher
    is used with weight ``1/N``: the mean over all teachers (the Table 3
    settings without S3's routing). With ``weights`` ``(B, N)`` every
    teacher's KL is weighted per sample and the weights keep their
    gradient (mstkd's gate training options, not in the paper: the soft
    mixture ``routing='soft'`` and the straight-through Gumbel selection
    ``routing='gumbel'``); ``topk_idx`` is then ignored. Renamed from mstkd's earlier ``DKD``,
    which collides with Decoupled KD (Zhao et al., 2022).

    Args:
        temperature (float): Defaults to 1.0.
        scale_by_t2 (bool): Defaults to True.
        normalize (str): Dense mean over ``'valid'`` or ``'all'`` pixels.
        topk_reduction (str): ``'sum'`` (Eq. 14, default) or ``'mean'``
            over the k selected teachers.
        loss_weight (float | dict): ``lambda_1`` of Eq. 18 (a schedule).
            Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_routed_kd'``.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 scale_by_t2: bool = True,
                 normalize: str = 'valid',
                 topk_reduction: str = 'sum',
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_routed_kd'):
        super().__init__(temperature, scale_by_t2, normalize, loss_weight,
                         loss_name)
        if topk_reduction not in ('sum', 'mean'):
            raise ValueError("topk_reduction must be 'sum' or 'mean', got "
                             f'{topk_reduction!r}')
        self.topk_reduction = topk_reduction

    def forward(self,
                student_logits: Tensor,
                teacher_logits: Union[Tensor, Sequence[Tensor]],
                topk_idx: Optional[Tensor] = None,
                valid_mask: Optional[Tensor] = None,
                weights: Optional[Tensor] = None) -> Tensor:
        kwargs = dict(valid_mask=valid_mask, normalize=self.normalize)
        if weights is not None:
            loss = weighted_kd(student_logits, teacher_logits, weights,
                               self.temperature, self.scale_by_t2, **kwargs)
        elif topk_idx is not None:
            loss = routed_kd(student_logits, teacher_logits, topk_idx,
                             self.temperature, self.scale_by_t2, **kwargs)
            if self.topk_reduction == 'mean':
                loss = loss / topk_idx.shape[1]
        else:
            teachers = _stack_teachers(teacher_logits, student_logits)
            num, batch = teachers.shape[:2]
            every = torch.arange(num, device=teachers.device).expand(
                batch, num)
            loss = routed_kd(student_logits, teachers, every,
                             self.temperature, self.scale_by_t2,
                             **kwargs) / num
        return self.loss_weight * loss
