"""A supervised routing target for the GateNet (mstkd, not in the paper)."""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss


def best_teacher(teacher_logits: Tensor, labels: Tensor,
                 student_logits: Optional[Tensor] = None,
                 criterion: str = 'ce', temperature: float = 1.0) -> Tensor:
    """Per sample, the index of the specialized teacher with the lowest CE
    on the true label (``'ce'``) or the lowest ``KL(teacher || student)``
    (``'kl'``, at ``temperature``): ``(B,)``. Classification logits
    ``(N, B, C)``."""
    if teacher_logits.dim() != 3:
        raise ValueError(
            'the teacher-quality target is defined per sample for '
            f'classification logits (N, B, C); got '
            f'{tuple(teacher_logits.shape)}.')
    teachers = teacher_logits.detach()
    num, batch, classes = teachers.shape
    if criterion == 'ce':
        ce = F.cross_entropy(teachers.reshape(num * batch, classes),
                             labels.repeat(num), reduction='none')
        return ce.view(num, batch).argmin(0)
    log_t = F.log_softmax(teachers / temperature, dim=2)
    log_s = F.log_softmax(student_logits.detach() / temperature, dim=1)
    kl = (log_t.exp() * (log_t - log_s.unsqueeze(0))).sum(2)
    return kl.argmin(0)


@MODELS.register_module()
class TeacherQualityLoss(BaseLoss):
    """Train the gate to predict, per sample, which specialized teacher is
    best: ``-log p_gate(j*)`` with ``j*`` the teacher with the lowest CE on
    the true label (``criterion='ce'``) or the lowest KL to the student
    (``'kl'``). The paper's gate is trained only by the load-balancing loss
    (Eq. 17), which drives it to uniform; this gives it a target (mstkd's
    ``gate_target`` option of :class:`~mstkd.models.MSTDistill`). The
    teachers and the student are detached: only the gate learns.

    Args:
        criterion (str): ``'ce'`` or ``'kl'``. Defaults to ``'ce'``.
        temperature (float): Of the ``'kl'`` criterion. Defaults to 1.0.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_gate_target'``.
    """

    def __init__(self,
                 criterion: str = 'ce',
                 temperature: float = 1.0,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_gate_target'):
        super().__init__(loss_weight, loss_name)
        if criterion not in ('ce', 'kl'):
            raise ValueError(f"TeacherQualityLoss: criterion is 'ce' or "
                             f"'kl', got {criterion!r}.")
        self.criterion = criterion
        self.temperature = temperature

    def forward(self, probs: Tensor,
                teacher_logits: Union[Tensor, Sequence[Tensor]],
                labels: Tensor,
                student_logits: Optional[Tensor] = None) -> Tensor:
        if not isinstance(teacher_logits, Tensor):
            teacher_logits = torch.stack(list(teacher_logits))
        target = best_teacher(teacher_logits, labels, student_logits,
                              self.criterion, self.temperature)
        return self.loss_weight * F.nll_loss(
            probs.clamp_min(1e-12).log(), target)
