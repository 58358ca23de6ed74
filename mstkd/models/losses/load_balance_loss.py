"""Load balancing of a router over its experts (MST-Distill Eq. 16-17,
Table 8)."""
import math
from typing import Union

import torch
import torch.distributed as dist
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss


def global_batch_sums(probs: Tensor) -> tuple:
    """Per-teacher sums of routing probabilities ``(B, N)`` over the global
    batch of a distributed run, and the global batch size.

    Under DDP each process holds ``B / world`` samples of the batch, and a
    batch statistic computed per process is another loss than the one of a
    single process at the full batch. Here the per-process sums are added
    across the processes (``torch.distributed.nn.functional.all_reduce``,
    differentiable: its backward adds the gradients of every process) when
    the loss is being trained; every process then computes the same global
    loss. Its gradient with respect to one process's ``probs`` is ``world``
    times the global one (one term per process, all equal), and DDP
    averages gradients over the ``world`` processes: the step is the one of
    a single process at the full batch (tested with ``dist_train.sh``).

    Without a process group, with one process, or without gradients (e.g.
    validation, where a process may not reach a collective) the sums are
    the local ones.

    Returns:
        tuple[Tensor, Tensor]: ``(N,)`` sums and the batch size (a 0-d
        tensor).
    """
    sums = torch.cat([probs.sum(0), probs.new_tensor([probs.shape[0]])])
    if (dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1 and torch.is_grad_enabled()
            and probs.requires_grad):
        from torch.distributed.nn.functional import all_reduce
        sums = all_reduce(sums)
    return sums[:-1], sums[-1]


def load_balance(probs: Tensor, mode: str = 'kl',
                 divide_by_n: bool = False,
                 cv_squared: bool = True) -> Tensor:
    """Load-balancing loss of routing probabilities ``(B, N)``.

    ``mode='kl'`` (paper): ``C_bar = probs.mean(0)`` (Eq. 16) and
    ``KL(U || C_bar) = sum_j (1/N) (log(1/N) - log C_bar_j)`` (Eq. 17).
    ``mode='cv'`` (Table 8): squared coefficient of variation of the
    per-teacher importance ``probs.sum(0)`` (Shazeer et al., 2017), with the
    unbiased variance (0 when ``N == 1``); ``cv_squared=False`` gives the
    reference release's ``std / mean`` (``load_balancing_loss`` in
    ``KD_methods/MST.py``: ``importance.std() / importance.mean()``).
    ``divide_by_n`` divides the KL by ``N`` like the release
    (``KLDivLoss(reduction='batchmean')`` on a 1-D vector).

    Under DDP the batch is the global one (:func:`global_batch_sums`), so
    ``dist_train.sh CFG 2`` at half the per-process batch trains the gate of
    one process at the full batch.
    """
    num = probs.shape[1]
    if mode not in ('kl', 'cv'):
        raise ValueError(f"mode must be 'kl' or 'cv', got {mode!r}")
    sums, count = global_batch_sums(probs)
    if mode == 'kl':
        c_bar = (sums / count).clamp_min(torch.finfo(probs.dtype).tiny)
        loss = (math.log(1.0 / num) - c_bar.log()).sum() / num
        return loss / num if divide_by_n else loss
    if mode == 'cv':
        if num == 1:
            return probs.sum() * 0
        importance = sums
        if not cv_squared:
            return importance.std() / importance.mean()
        return importance.var() / (importance.mean()**2 + 1e-10)


@MODELS.register_module()
class LoadBalanceLoss(BaseLoss):
    """Keeps a router from collapsing onto few teachers (Eq. 16-17).

    Args:
        mode (str): ``'kl'`` (paper) or ``'cv'`` (Table 8). Defaults to
            ``'kl'``.
        divide_by_n (bool): The reference release's extra ``1/N``.
            Defaults to False.
        cv_squared (bool): ``mode='cv'``: the squared coefficient of
            variation (Shazeer et al. 2017, default) or, False, the
            release's unsquared ``std / mean``.
        loss_weight (float | dict): ``lambda_2`` of Eq. 18 (a schedule).
            Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_lb'``.
    """

    #: Batch-level (see BaseLoss): on the batch mean (importance) of the
    #: routing probabilities.
    batch_level = True

    def __init__(self,
                 mode: str = 'kl',
                 divide_by_n: bool = False,
                 cv_squared: bool = True,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_lb'):
        super().__init__(loss_weight, loss_name)
        if mode not in ('kl', 'cv'):
            raise ValueError(f"mode must be 'kl' or 'cv', got {mode!r}")
        self.mode = mode
        self.divide_by_n = divide_by_n
        self.cv_squared = cv_squared

    def forward(self, probs: Tensor) -> Tensor:
        return self.loss_weight * load_balance(
            probs, self.mode, self.divide_by_n, self.cv_squared)
