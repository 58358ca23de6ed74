"""Functional parts the distillation losses share: reduction over (valid)
elements and the temperature KL divergence (Eq. 2, 8, 14 of MST-Distill;
Hinton et al. 2015).

Dense (segmentation) inputs ``(B, C, *spatial)`` are supported wherever a KL
divergence is taken: the KL is computed per pixel (summed over the class
dimension 1) and reduced over the batch and the (valid) pixels. Element-wise
losses on dense maps of any resolution (features at the encoder-decoder
bottleneck, logit maps) are averaged over the valid label pixels by
:func:`masked_mean` (weights from :func:`valid_weights`), the one place that
brings a label-resolution valid mask to a map's resolution.
"""
from typing import Optional, Sequence

import torch
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


def valid_weights(valid_mask: Tensor, size: Sequence[int]) -> Tensor:
    """The weight of every cell of a ``(B, C, *size)`` map: the fraction of
    the valid (non-void) label pixels it covers.

    At the label resolution this is the mask itself (0/1). A coarser map
    (e.g. a FuseNet bottleneck at ``H/32 x W/32``) gets the mean of the mask
    over each cell's pixels (adaptive average pooling, exact when the label
    size is a multiple of the map size), so that a mean weighted by it is the
    mean over the valid label pixels of the error of the cell each pixel
    falls in: void pixels count nowhere, all-void cells get weight 0.

    Args:
        valid_mask (Tensor): Bool ``(B, *spatial)`` valid label pixels (the
            task's ``valid_mask``).
        size (Sequence[int]): The map's spatial size (as many dims as
            ``spatial``).

    Returns:
        Tensor: Float ``(B, *size)`` weights in ``[0, 1]``.
    """
    size = tuple(int(s) for s in size)
    if tuple(valid_mask.shape[1:]) == size:
        return valid_mask.float()
    dims = valid_mask.dim() - 1
    if len(size) != dims or dims not in (1, 2, 3):
        raise ValueError(
            f'valid_mask {tuple(valid_mask.shape)} (B, *spatial) cannot be '
            f'brought to a map of spatial size {size}: a per-pixel loss '
            'needs (B, C, *spatial) maps with as many spatial dims as the '
            'label maps (pool vector features before, or map them without '
            'the valid mask).')
    pool = getattr(F, f'adaptive_avg_pool{dims}d')
    return pool(valid_mask.float().unsqueeze(1), size).squeeze(1)


def masked_mean(loss: Tensor, valid_mask: Optional[Tensor]) -> Tensor:
    """Mean of an element-wise loss ``(B, C, *spatial)`` over its channels
    and the valid pixels.

    ``sum(loss * w) / (C * sum(w))`` with ``w =``
    :func:`valid_weights` ``(valid_mask, spatial)``: at the label resolution
    the mean over the non-void pixels; an all-void batch gives 0 (finite,
    no gradient), as :func:`reduce_loss`. Without a mask, the plain mean.

    Args:
        loss (Tensor): ``(B, C, *spatial)`` element-wise loss (e.g. squared
            errors of feature or logit maps).
        valid_mask (Tensor, optional): Bool ``(B, *label spatial)``.

    Returns:
        Tensor: A scalar.
    """
    if valid_mask is None:
        return loss.mean()
    if loss.dim() < 3:
        raise ValueError(
            f'masked_mean: a (B, C, *spatial) loss map, got '
            f'{tuple(loss.shape)}.')
    weights = valid_weights(valid_mask, loss.shape[2:]).to(loss.dtype)
    total = weights.sum() * loss.shape[1]
    # an all-void batch: 0 / tiny = 0 (no host sync, no NaN)
    return (loss * weights.unsqueeze(1)).sum() / total.clamp_min(
        torch.finfo(loss.dtype).tiny)
