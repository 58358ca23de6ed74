"""C2KD's on-the-fly selection distillation between the two proxies."""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss


def kendall_tau(x: Tensor, y: Tensor) -> Tensor:
    """Kendall's tau-b between the rows of ``x`` and ``y`` ``(B, C)``:
    ``(concordant - discordant) / sqrt((n0 - ties_x) (n0 - ties_y))`` over
    the ``n0 = C (C - 1) / 2`` class pairs, one value per sample (the MST
    release's ``batch_kendall_tau_gpu``; a row without untied pairs gives
    0)."""
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f'kendall_tau: (B, C) inputs of equal shape; got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}.')
    num = x.shape[1]
    i, j = torch.triu_indices(num, num, offset=1, device=x.device)
    sx = torch.sign(x[:, i] - x[:, j])
    sy = torch.sign(y[:, i] - y[:, j])
    prod = sx * sy
    pairs = num * (num - 1) / 2
    denom = torch.sqrt((pairs - (sx == 0).sum(1).double()) *
                       (pairs - (sy == 0).sum(1).double()))
    tau = ((prod > 0).sum(1) - (prod < 0).sum(1)).double() / denom
    return torch.nan_to_num(tau, nan=0.0).to(x.dtype)


def non_target_log_probs(logits: Tensor, labels: Tensor, temperature: float,
                         target: str = 'exclude') -> Tensor:
    """Log-probabilities over the non-target classes.

    ``target='exclude'``: a softmax over the ``C - 1`` non-target classes
    (the target's entry is ``-inf`` before the softmax, so its probability
    is 0; the non-target-class distribution of DKD, Zhao et al. 2022, used
    by C2KD); ``'zero'``: the MST release's ``ntkl`` (``logits *
    ~gt_mask``: the target logit set to 0, softmax over all ``C``)."""
    gt = F.one_hot(labels.long().flatten(), logits.shape[1]).bool()
    if target == 'exclude':
        logits = logits.masked_fill(gt, float('-inf'))
    elif target == 'zero':
        logits = logits * (~gt)
    else:
        raise ValueError(f"target must be 'exclude' or 'zero', got "
                         f'{target!r}')
    return F.log_softmax(logits / temperature, dim=1)


@MODELS.register_module()
class C2KDLoss(BaseLoss):
    """On-the-fly selection distillation (OFSD) of C2KD between the student's
    and the teacher's proxies.

    Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal Knowledge
    Distillation", CVPR 2024, Sec. 3 (on-the-fly selection distillation):
    the two proxies teach each other the non-target classes only, and only
    on the samples whose proxy outputs agree in rank, Kendall's tau of the
    two proxies' logits above ``threshold`` (the release's ``--krc``,
    default 0)::

        m_i = [tau(z_t[i], z_s[i]) > threshold]
        L = 1/B sum_i m_i (KL(q_t[i].detach() || q_s[i])
                           + KL(q_s[i].detach() || q_t[i]))

    with ``q`` the non-target-class distributions at temperature ``T``
    (:func:`non_target_log_probs`) and the mean over the whole batch
    (unselected samples count 0), as the release's ``ntkl``. The
    bidirectional KL between each proxy and its own member is declared
    separately (:class:`MutualKLLoss` with ``detach=True``).

    Dense logit maps ``(B, C, *spatial)`` (segmentation) with label maps
    ``(B, *spatial)``: every valid pixel is a sample of the formula above
    (its own tau, its own non-target distributions) and the mean runs over
    the valid pixels (``valid_mask``, the task's inside a distiller: void
    pixels count nowhere; an all-void batch gives 0)::

        L = 1/|V| sum_{p in V} m_p (KL(q_t[p].detach() || q_s[p])
                                    + KL(q_s[p].detach() || q_t[p]))

    with ``m_p = [tau_p > threshold]`` (``dense_selection='pixel'``) or,
    the MST release's NYU variant (``image_level_kendalltau``),
    ``m_p = [mean tau over the valid pixels of p's image > threshold]``
    (``'image'``). Tau is computed in chunks of ``chunk_pixels`` pixels
    (``C (C - 1) / 2`` class pairs each).

    Args:
        threshold (float): Kendall's tau a sample needs. Defaults to 0.
        temperature (float): ``T`` (no ``T^2`` factor). Defaults to 1.
        target (str): ``'exclude'`` (default: a distribution over the
            non-target classes) or ``'zero'`` (the release: target logit
            set to 0, softmax over all classes).
        rank_on (str): The logits Kendall's tau compares: ``'all'`` classes
            (default, the release) or the ``'non_target'`` ones.
        dense_selection (str): Dense inputs only: select ``'pixel'`` s
            (default) or whole ``'image'`` s (the release's NYU variant).
        chunk_pixels (int): Dense inputs only: pixels per Kendall's tau
            chunk (memory). Defaults to 65536.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_ofsd'``.
    """

    def __init__(self,
                 threshold: float = 0.0,
                 temperature: float = 1.0,
                 target: str = 'exclude',
                 rank_on: str = 'all',
                 dense_selection: str = 'pixel',
                 chunk_pixels: int = 65536,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_ofsd'):
        super().__init__(loss_weight, loss_name)
        if target not in ('exclude', 'zero'):
            raise ValueError(f"C2KDLoss: target must be 'exclude' or "
                             f"'zero', got {target!r}.")
        if rank_on not in ('all', 'non_target'):
            raise ValueError(f"C2KDLoss: rank_on must be 'all' or "
                             f"'non_target', got {rank_on!r}.")
        if dense_selection not in ('pixel', 'image'):
            raise ValueError(f"C2KDLoss: dense_selection must be 'pixel' or "
                             f"'image', got {dense_selection!r}.")
        if chunk_pixels < 1:
            raise ValueError(f'C2KDLoss: chunk_pixels must be >= 1, got '
                             f'{chunk_pixels}.')
        self.dense_selection = dense_selection
        self.chunk_pixels = chunk_pixels
        self.threshold = threshold
        self.temperature = temperature
        self.target = target
        self.rank_on = rank_on

    def rank_correlation(self, pred: Tensor, target: Tensor,
                         labels: Tensor) -> Tensor:
        """``(B, )`` Kendall's tau of the two proxies' (detached) logits."""
        s, t = pred.detach(), target.detach()
        if self.rank_on == 'non_target':
            keep = ~F.one_hot(labels.long().flatten(), s.shape[1]).bool()
            s = s[keep].view(len(s), -1)
            t = t[keep].view(len(t), -1)
        return kendall_tau(t, s)

    def selection(self, pred: Tensor, target: Tensor,
                  labels: Tensor) -> Tensor:
        """``(B, )`` float mask of the samples distilled."""
        return (self.rank_correlation(pred, target, labels) >
                self.threshold).to(pred.dtype)

    def _kl(self, student: Tensor, teacher: Tensor, labels: Tensor) -> Tensor:
        """Per-sample ``KL(q(teacher.detach()) || q(student))``."""
        log_q_s = non_target_log_probs(student, labels, self.temperature,
                                       self.target)
        log_q_t = non_target_log_probs(teacher.detach(), labels,
                                       self.temperature, self.target)
        # 0 * log 0 = 0 for the excluded target class
        return torch.where(log_q_t.isinf(), torch.zeros_like(log_q_t),
                           log_q_t.exp() * (log_q_t - log_q_s)).sum(1)

    def _valid_pixels(self, pred: Tensor, target: Tensor, labels: Tensor,
                      valid_mask: Optional[Tensor]
                      ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """The valid pixels of dense inputs as samples: ``(N, C)`` logits of
        both proxies, ``(N, )`` labels and ``(N, )`` image indices."""
        if tuple(labels.shape) != (pred.shape[0], *pred.shape[2:]):
            raise ValueError(
                f'C2KDLoss: label maps {tuple(labels.shape)} do not match '
                f'the proxy logit maps {tuple(pred.shape)}; the proxies '
                'must predict at the label resolution: ProxyHead('
                "dense=True) with target='<member>:' upsamples to the "
                "member's logits.")
        num = pred.shape[1]
        valid = torch.ones_like(labels, dtype=torch.bool) \
            if valid_mask is None else valid_mask.bool()
        if valid.shape != labels.shape:
            raise ValueError(
                f'C2KDLoss: valid_mask {tuple(valid.shape)} does not match '
                f'the label maps {tuple(labels.shape)}.')
        valid = valid.flatten()
        labels = labels.flatten()[valid].long()
        if labels.numel() and (labels.min() < 0 or labels.max() >= num):
            raise ValueError(
                f'C2KDLoss: valid pixels need labels in [0, {num}); give '
                'valid_mask (the task does inside a distiller) to exclude '
                'void pixels.')
        image = torch.arange(pred.shape[0], device=pred.device
                             ).repeat_interleave(pred[0, 0].numel())[valid]

        def pixels(x):
            return x.movedim(1, -1).reshape(-1, num)[valid]

        return pixels(pred), pixels(target), labels, image

    def _dense(self, pred: Tensor, target: Tensor, labels: Tensor,
               valid_mask: Optional[Tensor]) -> Tensor:
        s, t, y, image = self._valid_pixels(pred, target, labels, valid_mask)
        step = self.chunk_pixels
        tau = torch.cat([self.rank_correlation(s[i:i + step], t[i:i + step],
                                               y[i:i + step])
                         for i in range(0, len(s), step)]) if len(s) else \
            s.new_zeros(0)
        if self.dense_selection == 'image':
            count = torch.zeros(pred.shape[0], dtype=tau.dtype,
                                device=tau.device).index_add_(
                0, image, torch.ones_like(tau))
            total = torch.zeros_like(count).index_add_(0, image, tau)
            tau = (total / count.clamp_min(1))[image]
        mask = (tau > self.threshold).to(pred.dtype)
        per_pixel = self._kl(s, t, y) + self._kl(t, s, y)
        return (mask * per_pixel).sum() / max(len(s), 1)

    def forward(self, pred: Tensor, target: Tensor, labels: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Args:
            pred (Tensor): The student proxy's logits ``(B, C)``, or logit
                maps ``(B, C, *spatial)``.
            target (Tensor): The teacher proxy's logits, same shape.
            labels (Tensor): ``(B, )`` class indices, or ``(B, *spatial)``
                label maps.
            valid_mask (Tensor, optional): Dense inputs: bool
                ``(B, *spatial)`` valid pixels (void excluded); None: all.
                Ignored for ``(B, C)`` inputs (every sample counts).
        """
        if pred.shape != target.shape or pred.dim() < 2:
            raise ValueError(
                f'C2KDLoss: (B, C) proxy logits (or (B, C, *spatial) maps) '
                f'of equal shape; got {tuple(pred.shape)} and '
                f'{tuple(target.shape)}.')
        if pred.dim() > 2:
            return self.loss_weight * self._dense(pred, target, labels,
                                                  valid_mask)
        mask = self.selection(pred, target, labels)
        per_sample = self._kl(pred, target, labels) + \
            self._kl(target, pred, labels)
        return self.loss_weight * (mask * per_sample).mean()
