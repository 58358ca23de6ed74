"""Multi-level logit distillation (MLLD)."""
from typing import Sequence, Union

import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss


@MODELS.register_module()
class MultiLevelLogitLoss(BaseLoss):
    """Instance-, batch- and class-level alignment of softened predictions
    over several temperatures.

    Jin et al., "Multi-Level Logit Distillation", CVPR 2023, Sec. 3 (the
    instance-, batch- and class-level alignments; normalisation as in the
    authors' code, ``kd_loss``/``bc_loss``/``cc_loss``): with
    ``P = softmax(z / T)`` of shape ``(B, C)`` for student (s) and teacher
    (t), at each temperature ``T``:

    - instance level: ``T^2 KL(P_t || P_s)``, batch mean;
    - batch level: the ``B x B`` Gram matrices ``G = P P^T``,
      ``||G_t - G_s||_F^2 / B``;
    - class level: the ``C x C`` correlation matrices ``M = P^T P``,
      ``||M_t - M_s||_F^2 / C``;

    summed over the temperatures (the authors' 2, 3, 4, 5, 6). The
    paper's prediction augmentation (weak/strong image augmentations and a
    teacher-confidence mask) is not part of the loss: it needs two augmented
    views of every input, which the multimodal protocol does not define
    (the MST reference release omits it too).

    ``reduction='release'`` follows the reference release
    (``KD_methods/MLLD.py``): the class- and batch-level terms are the mean
    (not the sum / C or / B) of the squared differences, and the total is
    divided by the number of temperatures and by 3.

    Args:
        temperatures (Sequence[float]): Defaults to (2, 3, 4, 5, 6).
        reduction (str): ``'paper'`` or ``'release'``. Defaults to
            ``'paper'``.
        detach_target (bool): Defaults to True.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_mlld'``.
    """

    #: Batch-level (see BaseLoss): the batch- and class-level matrices.
    batch_level = True

    def __init__(self,
                 temperatures: Sequence[float] = (2.0, 3.0, 4.0, 5.0, 6.0),
                 reduction: str = 'paper',
                 detach_target: bool = True,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_mlld'):
        super().__init__(loss_weight, loss_name)
        if reduction not in ('paper', 'release'):
            raise ValueError(f"MultiLevelLogitLoss: reduction is 'paper' or "
                             f"'release', got {reduction!r}.")
        if not temperatures:
            raise ValueError('MultiLevelLogitLoss needs at least one '
                             'temperature.')
        self.temperatures = tuple(float(t) for t in temperatures)
        self.reduction = reduction
        self.detach_target = detach_target

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.dim() != 2 or pred.shape != target.shape:
            raise ValueError(
                f'MultiLevelLogitLoss takes (B, C) logits of equal shape; '
                f'got pred {tuple(pred.shape)}, target '
                f'{tuple(target.shape)}.')
        if self.detach_target:
            target = target.detach()
        batch, classes = pred.shape
        total = pred.new_zeros(())
        for t in self.temperatures:
            log_ps = F.log_softmax(pred / t, dim=1)
            ps, pt = log_ps.exp(), F.softmax(target / t, dim=1)
            instance = F.kl_div(log_ps, pt, reduction='batchmean') * t * t
            gram = (pt @ pt.t() - ps @ ps.t()).pow(2)
            corr = (pt.t() @ pt - ps.t() @ ps).pow(2)
            if self.reduction == 'paper':
                total = total + instance + gram.sum() / batch + \
                    corr.sum() / classes
            else:
                total = total + instance + gram.mean() + corr.mean()
        if self.reduction == 'release':
            total = total / (3 * len(self.temperatures))
        return self.loss_weight * total
