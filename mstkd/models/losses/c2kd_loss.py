"""C2KD's on-the-fly selection distillation between the two proxies."""
from typing import Union

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

    Args:
        threshold (float): Kendall's tau a sample needs. Defaults to 0.
        temperature (float): ``T`` (no ``T^2`` factor). Defaults to 1.
        target (str): ``'exclude'`` (default: a distribution over the
            non-target classes) or ``'zero'`` (the release: target logit
            set to 0, softmax over all classes).
        rank_on (str): The logits Kendall's tau compares: ``'all'`` classes
            (default, the release) or the ``'non_target'`` ones.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_ofsd'``.
    """

    def __init__(self,
                 threshold: float = 0.0,
                 temperature: float = 1.0,
                 target: str = 'exclude',
                 rank_on: str = 'all',
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_ofsd'):
        super().__init__(loss_weight, loss_name)
        if target not in ('exclude', 'zero'):
            raise ValueError(f"C2KDLoss: target must be 'exclude' or "
                             f"'zero', got {target!r}.")
        if rank_on not in ('all', 'non_target'):
            raise ValueError(f"C2KDLoss: rank_on must be 'all' or "
                             f"'non_target', got {rank_on!r}.")
        self.threshold = threshold
        self.temperature = temperature
        self.target = target
        self.rank_on = rank_on

    def selection(self, pred: Tensor, target: Tensor,
                  labels: Tensor) -> Tensor:
        """``(B, )`` float mask of the samples distilled."""
        s, t = pred.detach(), target.detach()
        if self.rank_on == 'non_target':
            keep = ~F.one_hot(labels.long().flatten(), s.shape[1]).bool()
            s = s[keep].view(len(s), -1)
            t = t[keep].view(len(t), -1)
        return (kendall_tau(t, s) > self.threshold).to(pred.dtype)

    def _kl(self, student: Tensor, teacher: Tensor, labels: Tensor) -> Tensor:
        """Per-sample ``KL(q(teacher.detach()) || q(student))``."""
        log_q_s = non_target_log_probs(student, labels, self.temperature,
                                       self.target)
        log_q_t = non_target_log_probs(teacher.detach(), labels,
                                       self.temperature, self.target)
        # 0 * log 0 = 0 for the excluded target class
        return torch.where(log_q_t.isinf(), torch.zeros_like(log_q_t),
                           log_q_t.exp() * (log_q_t - log_q_s)).sum(1)

    def forward(self, pred: Tensor, target: Tensor, labels: Tensor) -> Tensor:
        """Args:
            pred (Tensor): The student proxy's logits ``(B, C)``.
            target (Tensor): The teacher proxy's logits ``(B, C)``.
            labels (Tensor): ``(B, )`` class indices.
        """
        if pred.shape != target.shape or pred.dim() != 2:
            raise ValueError(
                f'C2KDLoss: (B, C) proxy logits of equal shape; got '
                f'{tuple(pred.shape)} and {tuple(target.shape)}.')
        mask = self.selection(pred, target, labels)
        per_sample = self._kl(pred, target, labels) + \
            self._kl(target, pred, labels)
        return self.loss_weight * (mask * per_sample).mean()
