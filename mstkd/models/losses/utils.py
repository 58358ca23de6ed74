"""Functional parts the distillation losses share: reduction over (valid)
elements and the temperature KL divergence (Eq. 2, 8, 14 of MST-Distill;
Hinton et al. 2015).

Dense (segmentation) inputs ``(B, C, *spatial)`` are supported wherever a KL
divergence is taken: the KL is computed per pixel (summed over the class
dimension 1) and reduced over the batch and the (valid) pixels.
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor


def reduce_loss(loss: Tensor,
                reduction: str = 'mean',
                valid_mask: Optional[Tensor] = None,
                normalize: str = 'valid') -> Tensor:
    """Reduce a per-sample ``(B,)`` or per-pixel ``(B, *spatial)`` loss.

    Args:
        loss (Tensor): Element-wise loss.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``.
        valid_mask (Tensor, optional): Bool mask of ``loss``'s shape; with
            ``normalize='valid'`` invalid (e.g. void) elements contribute
            zero.
        normalize (str): ``'valid'``: the mean over the valid elements.
            ``'all'``: every element counts, void included, and the mean
            divides by all of them (the MST reference release's dense KL:
            ``F.kl_div(..., reduction='batchmean') / (H * W)`` over the
            whole map, ``KD_methods/MST.py`` ``distillation_loss``).

    Returns:
        Tensor: The reduced loss (for ``'none'``: ``loss``, invalid elements
        zeroed unless ``normalize='all'``).
    """
    if normalize not in ('valid', 'all'):
        raise ValueError(f"normalize must be 'valid' or 'all', got "
                         f'{normalize!r}')
    if valid_mask is not None:
        if valid_mask.shape != loss.shape:
            raise ValueError(f'valid_mask shape {tuple(valid_mask.shape)} '
                             f'does not match {tuple(loss.shape)}')
        if normalize == 'all':
            valid_mask = None
        else:
            loss = loss * valid_mask.to(loss.dtype)
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction != 'mean':
        raise ValueError(f'unknown reduction {reduction!r}')
    if valid_mask is None:
        return loss.sum() / loss.numel()
    return loss.sum() / valid_mask.sum().clamp_min(1)


def pointwise_kl(p_logits: Tensor, q_logits: Tensor, temperature: float,
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
    """``KL(P || Q)`` of temperature-softened logits (MST-Distill Eq. 2, 8,
    14; Hinton et al. 2015).

    ``P = softmax(p_logits / T)``, ``Q = softmax(q_logits / T)`` over dim 1;
    the KL is summed over classes per sample (per pixel for dense inputs).
    Gradients reach both arguments: callers detach where a method does.

    Args:
        p_logits (Tensor): Logits of the reference distribution ``P``,
            ``(B, C)`` or ``(B, C, *spatial)``.
        q_logits (Tensor): Logits of ``Q``, same shape.
        temperature (float): Softmax temperature ``tau``. Defaults to 1.0.
        scale_by_t2 (bool): Multiply by ``T**2`` (Hinton et al.) to keep the
            gradient scale independent of ``T``. Defaults to True.
        reduction (str): ``'mean'`` (batch mean), ``'sum'`` or ``'none'``
            (per sample ``(B,)``, per pixel ``(B, *spatial)``).
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
    kl = pointwise_kl(p_logits, q_logits, temperature, scale_by_t2)
    return reduce_loss(kl, reduction, valid_mask, normalize)
