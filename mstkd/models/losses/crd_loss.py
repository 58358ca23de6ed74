"""Contrastive representation distillation (CRD) with memory banks."""
from typing import Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss

EPS = 1e-7


def nce_loss(scores: Tensor, num_samples: int) -> Tensor:
    """CRD's NCE objective (Tian et al. 2020, Eq. 18; ``ContrastLoss`` of
    the authors' code): ``scores`` ``(B, K + 1)`` are normalised critic
    values ``h``, positive first; noise distribution uniform over
    ``num_samples``."""
    batch, k = scores.shape[0], scores.shape[1] - 1
    noise = k / float(num_samples)
    pos = scores[:, 0]
    log_d1 = torch.log(pos / (pos + noise + EPS))
    log_d0 = torch.log(noise / (scores[:, 1:] + noise + EPS))
    return -(log_d1.sum() + log_d0.sum()) / batch


@MODELS.register_module()
class CRDLoss(BaseLoss):
    """Contrastive representation distillation between L2-normalised
    student and teacher embeddings, with one memory bank per side.

    Tian et al., "Contrastive Representation Distillation", ICLR 2020,
    Sec. 3 (the critic ``h = exp(<e_s, e_t> / T) / Z``, ``Z`` estimated
    once from the first batch as in the authors' code, and the NCE loss of
    Eq. 18 with ``K`` negatives drawn from memory banks), symmetric as in the
    authors' ``CRDLoss``: the teacher embedding against ``K + 1`` student
    embeddings of the bank, and the student's against the teacher bank. The
    banks are updated with momentum after each step (normalised
    ``m * bank[i] + (1 - m) * e_i``) in every call with autograd enabled
    (a training step; distillers keep loss modules in eval mode, so
    ``self.training`` cannot tell). Embeddings come from connectors
    (``LinearConnector(l2_normalize=True)``, the authors' ``Embed``).

    The banks are buffers of ``2 x num_samples x feat_dim`` floats on the
    training device (saved in checkpoints, so resume continues them); the
    size is logged when the loss is built. ``num_samples`` must exceed the
    largest dataset index of a training sample (``sample_ids``; AV-Digits:
    5000). The banks are keyed by dataset index, which also numbers the
    validation and test samples: negatives are drawn uniformly, by
    ``torch.randint`` (the run's seed), from the rows of the training
    samples seen so far, excluding the positive (the authors draw from the
    whole training set, whose rows start as the same random
    initialisation); pass ``contrast_idx`` to fix them. Under DDP every process keeps its own
    banks, updated with its own samples.

    Args:
        num_samples (int): Rows of each bank.
        feat_dim (int): Embedding width. Defaults to 128.
        num_negatives (int): ``K``. Defaults to 4096 (the MST release; the
            CRD paper uses 16384 on CIFAR-100).
        temperature (float): Defaults to 0.07.
        momentum (float): Bank momentum. Defaults to 0.5.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_crd'``.
    """

    #: Batch-level (see BaseLoss): memory banks updated after every call,
    #: Z estimated from the first batch.
    batch_level = True

    def __init__(self,
                 num_samples: int,
                 feat_dim: int = 128,
                 num_negatives: int = 4096,
                 temperature: float = 0.07,
                 momentum: float = 0.5,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_crd'):
        super().__init__(loss_weight, loss_name)
        # negatives are drawn with replacement: K may exceed the bank (the
        # release draws 4096 from RAVDESS' 864 training clips)
        if int(num_negatives) < 1 or int(num_samples) < 2:
            raise ValueError(
                f'CRDLoss: num_negatives ({num_negatives}) must be >= 1 and '
                f'num_samples ({num_samples}) >= 2.')
        self.num_samples = num_samples
        self.feat_dim = feat_dim
        self.num_negatives = num_negatives
        self.temperature = temperature
        self.momentum = momentum
        std = 1.0 / (feat_dim / 3) ** 0.5  # the authors' initialisation
        self.register_buffer(
            'memory_student',
            torch.rand(num_samples, feat_dim).mul_(2 * std).add_(-std))
        self.register_buffer(
            'memory_teacher',
            torch.rand(num_samples, feat_dim).mul_(2 * std).add_(-std))
        # the normalisation constants Z of both critics; < 0: not yet set
        self.register_buffer('z', torch.full((2, ), -1.0))
        # rows of training samples seen so far (the negatives' pool)
        self.register_buffer('seen', torch.zeros(num_samples,
                                                 dtype=torch.bool))
        print_log(
            f'CRD memory banks: 2 x {num_samples} x {feat_dim} float32 = '
            f'{2 * num_samples * feat_dim * 4 / 2**20:.1f} MiB (on the '
            f'training device), {num_negatives} negatives per sample',
            logger='current')

    def draw_negatives(self, ids: Tensor) -> Tensor:
        """``(B, K + 1)`` bank rows, the positive first, then ``K``
        negatives drawn with replacement from the seen rows other than the
        positive (``ids`` must be marked seen)."""
        pool = torch.nonzero(self.seen).flatten()
        if len(pool) < 2:
            raise ValueError('CRDLoss needs two distinct samples to draw a '
                             'negative; the batch has one.')
        draw = torch.randint(0, len(pool) - 1,
                             (len(ids), self.num_negatives),
                             device=ids.device)
        rank = torch.searchsorted(pool, ids)[:, None]  # the positive's slot
        neg = pool[draw + (draw >= rank).long()]
        return torch.cat([ids[:, None], neg], 1)

    def forward(self,
                pred: Tensor,
                target: Tensor,
                sample_ids: Union[Tensor, Sequence[int]],
                contrast_idx: Optional[Tensor] = None) -> Tensor:
        if sample_ids is None:
            raise ValueError(
                'CRDLoss needs the dataset index of every sample '
                "(data_samples['sample_idx']); this dataset gives none.")
        ids = torch.as_tensor(sample_ids, dtype=torch.long,
                              device=pred.device).flatten()
        if len(ids) and int(ids.max()) >= self.num_samples:
            raise ValueError(
                f'CRDLoss: sample index {int(ids.max())} >= num_samples '
                f'({self.num_samples}); set num_samples to the number of '
                'samples of the data file.')
        target = target.detach()
        if pred.shape != target.shape or pred.shape[1] != self.feat_dim:
            raise ValueError(
                f'CRDLoss: embeddings must be (B, {self.feat_dim}); got '
                f'student {tuple(pred.shape)}, teacher '
                f'{tuple(target.shape)} (embed both with a LinearConnector '
                f'with out_channels={self.feat_dim}, l2_normalize=True).')
        if torch.is_grad_enabled():  # a training step
            self.seen[ids] = True
        idx = self.draw_negatives(ids) if contrast_idx is None else \
            contrast_idx.to(pred.device).long()
        batch, k1 = idx.shape
        bank_s = self.memory_student[idx.flatten()].view(batch, k1, -1)
        bank_t = self.memory_teacher[idx.flatten()].view(batch, k1, -1)
        # teacher anchor vs student bank; student anchor vs teacher bank
        out_t = torch.exp(torch.bmm(bank_s, target[:, :, None]).squeeze(2) /
                          self.temperature)
        out_s = torch.exp(torch.bmm(bank_t, pred[:, :, None]).squeeze(2) /
                          self.temperature)
        if self.z[0] < 0:
            self.z[0] = out_s.detach().mean() * self.num_samples
        if self.z[1] < 0:
            self.z[1] = out_t.detach().mean() * self.num_samples
        loss = nce_loss(out_s / self.z[0], self.num_samples) + \
            nce_loss(out_t / self.z[1], self.num_samples)
        if torch.is_grad_enabled():  # a training step
            self.update_banks(ids, pred.detach(), target)
        return self.loss_weight * loss

    @torch.no_grad()
    def update_banks(self, ids: Tensor, student: Tensor,
                     teacher: Tensor) -> None:
        for bank, new in ((self.memory_student, student),
                          (self.memory_teacher, teacher)):
            rows = bank[ids] * self.momentum + new * (1 - self.momentum)
            bank[ids] = rows / rows.norm(dim=1, keepdim=True)
