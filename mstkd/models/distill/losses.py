"""Losses of MST-Distill (Eq. 1-4, 8-10, 14, 16-18) and the lambda decay.

All functions take tensors, never dataset names. Dense (segmentation)
inputs ``(B, C, *spatial)`` are supported wherever a KL divergence is taken:
the KL is computed per pixel (summed over the class dimension 1) and reduced
over the batch and the (valid) pixels.
"""
import itertools
import math
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS

__all__ = [
    'kl_divergence', 'collaborative_loss', 'specialized_teacher_loss',
    'dkd_loss', 'mean_teacher_loss', 'load_balance_loss', 'step_decay',
    'mst_stage3_loss', 'KLDivergenceLoss', 'CollaborativeLoss',
    'SpecializedTeacherLoss', 'DKDLoss', 'LoadBalanceLoss', 'LambdaSchedule'
]


def _reduce(loss: Tensor,
            reduction: str = 'mean',
            valid_mask: Optional[Tensor] = None,
            normalize: str = 'valid') -> Tensor:
    """Reduce a per-sample ``(B,)`` or per-pixel ``(B, *spatial)`` loss.

    Args:
        loss (Tensor): Element-wise loss.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``.
        valid_mask (Tensor, optional): Bool mask of ``loss``'s shape; invalid
            (e.g. void) elements contribute zero.
        normalize (str): For ``'mean'``: ``'valid'`` divides by the number of
            valid elements, ``'all'`` by all elements (void included).

    Returns:
        Tensor: The reduced loss (``loss`` with zeroed invalid elements for
        ``'none'``).
    """
    if normalize not in ('valid', 'all'):
        raise ValueError(f"normalize must be 'valid' or 'all', got "
                         f'{normalize!r}')
    if valid_mask is not None:
        if valid_mask.shape != loss.shape:
            raise ValueError(f'valid_mask shape {tuple(valid_mask.shape)} '
                             f'does not match {tuple(loss.shape)}')
        loss = loss * valid_mask.to(loss.dtype)
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction != 'mean':
        raise ValueError(f'unknown reduction {reduction!r}')
    if valid_mask is None or normalize == 'all':
        return loss.sum() / loss.numel()
    return loss.sum() / valid_mask.sum().clamp_min(1)


def _pointwise_kl(p_logits: Tensor, q_logits: Tensor, temperature: float,
                  scale_by_t2: bool) -> Tensor:
    """Element-wise ``KL(P || Q)`` summed over dim 1: ``(B, *spatial)``."""
    log_p = F.log_softmax(p_logits / temperature, dim=1)
    log_q = F.log_softmax(q_logits / temperature, dim=1)
    kl = (log_p.exp() * (log_p - log_q)).sum(1)
    return kl * temperature**2 if scale_by_t2 else kl


def kl_divergence(p_logits: Tensor,
                  q_logits: Tensor,
                  temperature: float = 1.0,
                  scale_by_t2: bool = True,
                  reduction: str = 'mean',
                  valid_mask: Optional[Tensor] = None,
                  normalize: str = 'valid') -> Tensor:
    """``KL(P || Q)`` of temperature-softened logits (Eq. 2, 8, 14).

    ``P = softmax(p_logits / T)``, ``Q = softmax(q_logits / T)`` over dim 1;
    the KL is summed over classes per sample (per pixel for dense inputs).
    Gradients reach both arguments: callers detach where the paper does.

    Args:
        p_logits (Tensor): Logits of the reference distribution ``P``,
            ``(B, C)`` or ``(B, C, *spatial)``.
        q_logits (Tensor): Logits of ``Q``, same shape.
        temperature (float): Softmax temperature ``tau``. Defaults to 1.0.
        scale_by_t2 (bool): Multiply by ``T**2`` (Hinton et al.) to keep the
            gradient scale independent of ``T``. Defaults to True.
        reduction (str): ``'mean'`` (batch mean, Eq. 4/10), ``'sum'`` or
            ``'none'`` (per sample ``(B,)``, per pixel ``(B, *spatial)``).
        valid_mask (Tensor, optional): Bool ``(B,)`` / ``(B, *spatial)``;
            invalid elements (void pixels) are zeroed.
        normalize (str): ``'valid'`` averages over valid elements only;
            ``'all'`` divides by ``B * H * W`` including void pixels (the
            reference release's dense KD).

    Returns:
        Tensor: The reduced divergence.
    """
    if p_logits.shape != q_logits.shape:
        raise ValueError(f'shape mismatch: {tuple(p_logits.shape)} vs '
                         f'{tuple(q_logits.shape)}')
    kl = _pointwise_kl(p_logits, q_logits, temperature, scale_by_t2)
    return _reduce(kl, reduction, valid_mask, normalize)


def collaborative_loss(logits: Mapping[str, Tensor],
                       labels: Tensor,
                       temperature: float = 1.0,
                       detach: bool = False,
                       scale_by_t2: bool = True,
                       ignore_index: int = -100,
                       **kl_kwargs) -> Dict[str, Tensor]:
    """Stage-1 collaborative initialization loss (Eq. 1-4).

    - ``loss_ce_<name>``: the CE of each member (Eq. 1), batch mean.
    - ``loss_align``: the alignment term (Eq. 2), batch mean (Eq. 4).

    ``detach=False`` (paper): ``sum_{i<j} KL(Pi||Pj) + KL(Pj||Pi)`` with no
    detachment, so every KL term sends gradients to *both* members of its
    pair. ``detach=True`` (DML-style, Table 7): member ``i`` is trained with
    ``CE_i + sum_{j != i} KL(Pj.detach() || Pi)``; the summed value equals the
    paper's (same ordered pairs) but each KL term only trains the member in
    its second argument, i.e. the one being taught.

    Args:
        logits (Mapping[str, Tensor]): Logits of every member, by name
            (``(B, C)`` or dense ``(B, C, *spatial)``).
        labels (Tensor): Targets ``(B,)`` or ``(B, *spatial)``.
        temperature (float): ``tau`` of Eq. 3. Defaults to 1.0.
        detach (bool): DML-style detachment. Defaults to False (paper).
        scale_by_t2 (bool): See :func:`kl_divergence`. Defaults to True.
        ignore_index (int): Label ignored by CE. Defaults to -100.
        **kl_kwargs: ``valid_mask`` / ``normalize`` for :func:`kl_divergence`.

    Returns:
        dict[str, Tensor]: The loss terms (mmengine's ``parse_losses`` sums
        every key starting with ``loss``).
    """
    if not logits:
        raise ValueError('collaborative_loss needs at least one member')
    losses = {
        f'loss_ce_{name}': F.cross_entropy(
            z, labels, ignore_index=ignore_index)
        for name, z in logits.items()
    }
    zs = list(logits.values())
    align = zs[0].new_zeros(())
    for i, j in itertools.combinations(range(len(zs)), 2):
        zi, zj = zs[i], zs[j]
        if detach:  # each direction trains only the member being taught
            align = align + kl_divergence(zj.detach(), zi, temperature,
                                          scale_by_t2, **kl_kwargs)
            align = align + kl_divergence(zi.detach(), zj, temperature,
                                          scale_by_t2, **kl_kwargs)
        else:
            align = align + kl_divergence(zi, zj, temperature, scale_by_t2,
                                          **kl_kwargs)
            align = align + kl_divergence(zj, zi, temperature, scale_by_t2,
                                          **kl_kwargs)
    losses['loss_align'] = align
    return losses


def specialized_teacher_loss(student_logits: Tensor,
                             teacher_logits: Tensor,
                             temperature: float = 1.0,
                             scale_by_t2: bool = True,
                             **kl_kwargs) -> Tensor:
    """Stage-2 loss of one specialized teacher (Eq. 8-10).

    ``KL(Q_student || Q_teacher)`` averaged over the batch. The student is
    detached: only the masked teacher (in practice its MaskNet) learns.

    Args:
        student_logits (Tensor): Target-modality student logits.
        teacher_logits (Tensor): Logits of the masked teacher.
        temperature (float): ``tau`` of Eq. 9. Defaults to 1.0.
        scale_by_t2 (bool): See :func:`kl_divergence`. Defaults to True.
        **kl_kwargs: ``reduction`` / ``valid_mask`` / ``normalize``.

    Returns:
        Tensor: ``L_S2^j`` (Eq. 10).
    """
    return kl_divergence(student_logits.detach(), teacher_logits, temperature,
                         scale_by_t2, **kl_kwargs)


def _stack_teachers(teacher_logits: Union[Tensor, Sequence[Tensor]],
                    student_logits: Tensor) -> Tensor:
    if not isinstance(teacher_logits, Tensor):
        teacher_logits = torch.stack(list(teacher_logits))
    if teacher_logits.shape[1:] != student_logits.shape:
        raise ValueError(f'teacher logits {tuple(teacher_logits.shape)} must '
                         f'be (N, *{tuple(student_logits.shape)})')
    return teacher_logits


def dkd_loss(student_logits: Tensor,
             teacher_logits: Union[Tensor, Sequence[Tensor]],
             topk_idx: Tensor,
             temperature: float = 1.0,
             scale_by_t2: bool = True,
             reduction: str = 'mean',
             valid_mask: Optional[Tensor] = None,
             normalize: str = 'valid') -> Tensor:
    """Dynamic knowledge distillation over the routed teachers (Eq. 14).

    Per sample: ``sum_{j in topk} KL(Q_j || P_student)``; the teachers are
    detached, so only the student receives gradients. Then batch mean.

    Args:
        student_logits (Tensor): ``(B, C)`` or dense ``(B, C, *spatial)``.
        teacher_logits (Tensor | Sequence[Tensor]): All specialized teachers
            stacked, ``(N, B, C[, *spatial])``.
        topk_idx (Tensor): Selected teachers per sample ``(B, k)`` (Eq. 13;
            per image for dense inputs).
        temperature (float): Defaults to 1.0.
        scale_by_t2 (bool): See :func:`kl_divergence`. Defaults to True.
        reduction, valid_mask, normalize: See :func:`kl_divergence`.

    Returns:
        Tensor: ``l_DKD`` reduced over the batch.
    """
    teachers = _stack_teachers(teacher_logits, student_logits)
    batch, k = topk_idx.shape
    rows = torch.arange(batch, device=topk_idx.device).unsqueeze(1)
    selected = teachers.detach().transpose(0, 1)[rows, topk_idx]  # (B, k, ..)
    student = student_logits.unsqueeze(1).expand_as(selected)
    kl = _pointwise_kl(
        selected.flatten(0, 1), student.flatten(0, 1), temperature,
        scale_by_t2)
    kl = kl.view(batch, k, *kl.shape[1:]).sum(1)
    return _reduce(kl, reduction, valid_mask, normalize)


def mean_teacher_loss(student_logits: Tensor,
                      teacher_logits: Union[Tensor, Sequence[Tensor]],
                      temperature: float = 1.0,
                      scale_by_t2: bool = True,
                      **kl_kwargs) -> Tensor:
    """Average KD over all teachers, no routing (Table 3: the settings
    without S3 routing).

    ``(1/N) sum_j KL(Q_j || P_student)`` with detached teachers.

    Args:
        student_logits (Tensor): ``(B, C[, *spatial])``.
        teacher_logits (Tensor | Sequence[Tensor]): ``(N, B, C[, ...])``.
        temperature (float): Defaults to 1.0.
        scale_by_t2 (bool): Defaults to True.
        **kl_kwargs: ``reduction`` / ``valid_mask`` / ``normalize``.

    Returns:
        Tensor: The mean-teacher distillation loss.
    """
    teachers = _stack_teachers(teacher_logits, student_logits)
    num, batch = teachers.shape[:2]
    all_idx = torch.arange(num, device=teachers.device).expand(batch, num)
    return dkd_loss(student_logits, teachers, all_idx, temperature,
                    scale_by_t2, **kl_kwargs) / num


def load_balance_loss(probs: Tensor,
                      mode: str = 'kl',
                      reference_compat: bool = False) -> Tensor:
    """Load-balancing loss over the routing probabilities (Eq. 16-17).

    ``mode='kl'`` (paper): ``C_bar = probs.mean(0)`` (Eq. 16) and
    ``KL(U || C_bar) = sum_j (1/N) (log(1/N) - log C_bar_j)`` (Eq. 17).
    ``mode='cv'`` (Table 8): squared coefficient of variation of the
    per-teacher importance ``probs.sum(0)`` (Shazeer et al., 2017), with the
    unbiased variance (0 when ``N == 1``).

    Args:
        probs (Tensor): Routing probabilities ``(B, N)`` (Eq. 12).
        mode (str): ``'kl'`` or ``'cv'``. Defaults to ``'kl'``.
        reference_compat (bool): For ``'kl'``, divide by ``N`` like the
            reference release (``KLDivLoss(reduction='batchmean')`` applied to
            a 1-D vector). Defaults to False.

    Returns:
        Tensor: Scalar loss.
    """
    num = probs.shape[1]
    if mode == 'kl':
        c_bar = probs.mean(0).clamp_min(torch.finfo(probs.dtype).tiny)
        loss = (math.log(1.0 / num) - c_bar.log()).sum() / num
        return loss / num if reference_compat else loss
    if mode == 'cv':
        if num == 1:
            return probs.sum() * 0
        importance = probs.sum(0)
        return importance.var() / (importance.mean()**2 + 1e-10)
    raise ValueError(f"mode must be 'kl' or 'cv', got {mode!r}")


def step_decay(initial: float,
               epoch: int,
               step: int,
               factor: float,
               reference_compat: bool = False) -> float:
    """Step decay of the loss weights ``lambda_1, lambda_2`` of Eq. 18.

    Paper: ``initial * factor ** (epoch // step)`` with ``epoch`` counted
    from 0 inside stage 3 (``lambda_1``: step 30, factor 0.5; ``lambda_2``:
    step 10, factor 0.9). The reference release multiplies whenever
    ``epoch % step == 0``, epoch 0 included, i.e.
    ``initial * factor ** (epoch // step + 1)`` (``reference_compat=True``).

    Args:
        initial (float): Initial weight.
        epoch (int): Epoch index within stage 3, from 0.
        step (int): Decay period in epochs.
        factor (float): Multiplicative factor per period.
        reference_compat (bool): Reproduce the release's off-by-one.

    Returns:
        float: The weight at ``epoch``.
    """
    if epoch < 0 or step <= 0:
        raise ValueError(f'need epoch >= 0 and step > 0, got {epoch}, {step}')
    return initial * factor**(epoch // step + int(reference_compat))


@MODELS.register_module()
class LambdaSchedule:
    """Configurable :func:`step_decay`: ``schedule(epoch) -> weight``.

    Example config: ``dict(type='LambdaSchedule', step=30, factor=0.5)``.

    Args:
        initial (float): Initial weight. Defaults to 1.0.
        step (int): Decay period in epochs. Defaults to 30.
        factor (float): Factor per period. Defaults to 0.5.
        reference_compat (bool): See :func:`step_decay`. Defaults to False.
    """

    def __init__(self,
                 initial: float = 1.0,
                 step: int = 30,
                 factor: float = 0.5,
                 reference_compat: bool = False) -> None:
        self.initial = initial
        self.step = step
        self.factor = factor
        self.reference_compat = reference_compat

    def __call__(self, epoch: int) -> float:
        return step_decay(self.initial, epoch, self.step, self.factor,
                          self.reference_compat)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(initial={self.initial}, step='
                f'{self.step}, factor={self.factor}, reference_compat='
                f'{self.reference_compat})')


def mst_stage3_loss(student_logits: Tensor,
                    labels: Tensor,
                    teacher_logits: Union[Tensor, Sequence[Tensor]],
                    probs: Tensor,
                    topk_idx: Tensor,
                    temperature: float = 1.0,
                    lambda1: float = 1.0,
                    lambda2: float = 1.0,
                    lb_mode: str = 'kl',
                    lb_reference_compat: bool = False,
                    scale_by_t2: bool = True,
                    ignore_index: int = -100,
                    **kl_kwargs) -> Dict[str, Tensor]:
    """Total stage-3 objective (Eq. 18), as already-weighted terms.

    ``loss_ce`` (Eq. 15) + ``lambda1 * loss_dkd`` (Eq. 14) +
    ``lambda2 * L_LB`` (Eq. 17); mmengine's ``parse_losses`` sums the keys.

    Args:
        student_logits (Tensor): ``(B, C[, *spatial])``.
        labels (Tensor): ``(B[, *spatial])``.
        teacher_logits (Tensor | Sequence[Tensor]): ``(N, B, C[, ...])``.
        probs (Tensor): Routing probabilities ``(B, N)``.
        topk_idx (Tensor): ``(B, k)``.
        temperature (float): Defaults to 1.0.
        lambda1 (float): Weight of the DKD term. Defaults to 1.0.
        lambda2 (float): Weight of the load-balance term. Defaults to 1.0.
        lb_mode (str): See :func:`load_balance_loss`. Defaults to ``'kl'``.
        lb_reference_compat (bool): See :func:`load_balance_loss`.
        scale_by_t2 (bool): See :func:`kl_divergence`. Defaults to True.
        ignore_index (int): Label ignored by CE. Defaults to -100.
        **kl_kwargs: ``valid_mask`` / ``normalize`` for the DKD term.

    Returns:
        dict[str, Tensor]: ``loss_ce``, ``loss_dkd``, ``loss_lb`` (weighted).
    """
    return dict(
        loss_ce=F.cross_entropy(
            student_logits, labels, ignore_index=ignore_index),
        loss_dkd=lambda1 * dkd_loss(student_logits, teacher_logits, topk_idx,
                                    temperature, scale_by_t2, **kl_kwargs),
        loss_lb=lambda2 * load_balance_loss(probs, lb_mode,
                                            lb_reference_compat))


# --------------------------------------------------------------------------
# nn.Module wrappers, buildable from configs.
# --------------------------------------------------------------------------
@MODELS.register_module()
class KLDivergenceLoss(nn.Module):
    """Module form of :func:`kl_divergence` (``loss(p_logits, q_logits)``).

    Args:
        temperature (float): Defaults to 1.0.
        scale_by_t2 (bool): Defaults to True.
        reduction (str): Defaults to ``'mean'``.
        normalize (str): Defaults to ``'valid'``.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 scale_by_t2: bool = True,
                 reduction: str = 'mean',
                 normalize: str = 'valid') -> None:
        super().__init__()
        self.temperature = temperature
        self.scale_by_t2 = scale_by_t2
        self.reduction = reduction
        self.normalize = normalize

    def forward(self,
                p_logits: Tensor,
                q_logits: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Returns ``KL(P || Q)``; see :func:`kl_divergence`."""
        return kl_divergence(p_logits, q_logits, self.temperature,
                             self.scale_by_t2, self.reduction, valid_mask,
                             self.normalize)


@MODELS.register_module()
class CollaborativeLoss(nn.Module):
    """Module form of :func:`collaborative_loss` (Eq. 1-4).

    Args:
        temperature (float): Defaults to 1.0.
        detach (bool): DML-style detachment. Defaults to False (paper).
        scale_by_t2 (bool): Defaults to True.
        ignore_index (int): Defaults to -100.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 detach: bool = False,
                 scale_by_t2: bool = True,
                 ignore_index: int = -100) -> None:
        super().__init__()
        self.temperature = temperature
        self.detach = detach
        self.scale_by_t2 = scale_by_t2
        self.ignore_index = ignore_index

    def forward(self, logits: Mapping[str, Tensor], labels: Tensor,
                **kl_kwargs) -> Dict[str, Tensor]:
        """Returns the loss dict of :func:`collaborative_loss`."""
        return collaborative_loss(logits, labels, self.temperature,
                                  self.detach, self.scale_by_t2,
                                  self.ignore_index, **kl_kwargs)


@MODELS.register_module()
class SpecializedTeacherLoss(nn.Module):
    """Module form of :func:`specialized_teacher_loss` (Eq. 8-10).

    Args:
        temperature (float): Defaults to 1.0.
        scale_by_t2 (bool): Defaults to True.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 scale_by_t2: bool = True) -> None:
        super().__init__()
        self.temperature = temperature
        self.scale_by_t2 = scale_by_t2

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                **kl_kwargs) -> Tensor:
        """Returns ``KL(Q_student.detach() || Q_teacher)``."""
        return specialized_teacher_loss(student_logits, teacher_logits,
                                        self.temperature, self.scale_by_t2,
                                        **kl_kwargs)


@MODELS.register_module()
class DKDLoss(nn.Module):
    """Module form of :func:`dkd_loss` (Eq. 14); ``topk_idx=None`` gives
    :func:`mean_teacher_loss` (Table 3: the settings without S3 routing).

    Args:
        temperature (float): Defaults to 1.0.
        scale_by_t2 (bool): Defaults to True.
        normalize (str): Defaults to ``'valid'``.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 scale_by_t2: bool = True,
                 normalize: str = 'valid') -> None:
        super().__init__()
        self.temperature = temperature
        self.scale_by_t2 = scale_by_t2
        self.normalize = normalize

    def forward(self,
                student_logits: Tensor,
                teacher_logits: Union[Tensor, Sequence[Tensor]],
                topk_idx: Optional[Tensor] = None,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Returns the (routed or mean) distillation loss."""
        kwargs = dict(valid_mask=valid_mask, normalize=self.normalize)
        if topk_idx is None:
            return mean_teacher_loss(student_logits, teacher_logits,
                                     self.temperature, self.scale_by_t2,
                                     **kwargs)
        return dkd_loss(student_logits, teacher_logits, topk_idx,
                        self.temperature, self.scale_by_t2, **kwargs)


@MODELS.register_module()
class LoadBalanceLoss(nn.Module):
    """Module form of :func:`load_balance_loss` (Eq. 16-17, Table 8).

    Args:
        mode (str): ``'kl'`` or ``'cv'``. Defaults to ``'kl'``.
        reference_compat (bool): Defaults to False.
    """

    def __init__(self,
                 mode: str = 'kl',
                 reference_compat: bool = False) -> None:
        super().__init__()
        if mode not in ('kl', 'cv'):
            raise ValueError(f"mode must be 'kl' or 'cv', got {mode!r}")
        self.mode = mode
        self.reference_compat = reference_compat

    def forward(self, probs: Tensor) -> Tensor:
        """Returns the load-balancing loss of ``probs`` ``(B, N)``."""
        return load_balance_loss(probs, self.mode, self.reference_compat)
