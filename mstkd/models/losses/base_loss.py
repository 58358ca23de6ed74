"""What every loss of :mod:`mstkd.models.losses` shares: a weight (constant
or scheduled over the epochs of a stage) and a name (mmseg style); and what
the losses on temperature-softened predictions share."""
from typing import Optional, Union

import torch.nn as nn
from torch import Tensor

from mstkd.registry import TASK_UTILS
from .utils import kl_divergence


class BaseLoss(nn.Module):
    """A named, weighted loss.

    ``forward`` returns ``loss_weight * value``. ``loss_weight`` is a number
    or a schedule config (e.g. ``dict(type='StepDecay', step=30,
    factor=0.5)``); a distiller calls :meth:`set_epoch` at each epoch of a
    stage so that the schedule's weight applies.

    Args:
        loss_weight (float | dict): Weight or schedule. Defaults to 1.0.
        loss_name (str): The key of this loss in the loss dict (``loss_*``,
            so that mmengine's ``parse_losses`` sums it). A distiller's
            ``losses`` dict key overrides it.
    """

    #: True for a loss that couples the samples of a batch (batch means,
    #: pairs, memory banks): micro-batching a stage that uses it is only
    #: approximate (:meth:`~mstkd.models.BaseDistiller.train_step` warns).
    batch_level: bool = False

    def __init__(self, loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss'):
        super().__init__()
        if isinstance(loss_weight, dict):
            self.weight_schedule = TASK_UTILS.build(loss_weight)
            self.loss_weight = self.weight_schedule(0)
        else:
            self.weight_schedule = None
            self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    def set_epoch(self, epoch: int) -> None:
        """Apply the weight schedule at ``epoch`` (of the current stage)."""
        if self.weight_schedule is not None:
            self.loss_weight = self.weight_schedule(epoch)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    @loss_name.setter
    def loss_name(self, name: str) -> None:
        self._loss_name = name


class SoftenedKLLoss(BaseLoss):
    """A loss built from KL divergences of temperature-softened predictions
    (Eq. 3 of MST-Distill; Hinton et al. 2015).

    Args:
        temperature (float): ``T``. Defaults to 1.0.
        scale_by_t2 (bool): Multiply every KL by ``T^2``. Defaults to True.
        normalize (str): Dense mean over ``'valid'`` pixels or ``'all'``
            (void included, the MST reference release). Defaults to
            ``'valid'``.
        loss_weight (float | dict): See :class:`BaseLoss`.
        loss_name (str): See :class:`BaseLoss`.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 scale_by_t2: bool = True,
                 normalize: str = 'valid',
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss'):
        super().__init__(loss_weight, loss_name)
        self.temperature = temperature
        self.scale_by_t2 = scale_by_t2
        self.normalize = normalize

    def kl(self, p_logits: Tensor, q_logits: Tensor,
           valid_mask: Optional[Tensor] = None) -> Tensor:
        """Batch-mean (valid-pixel mean) ``KL(P || Q)`` at this loss's
        temperature (:func:`~mstkd.models.losses.utils.kl_divergence`)."""
        return kl_divergence(p_logits, q_logits, self.temperature,
                             self.scale_by_t2, valid_mask=valid_mask,
                             normalize=self.normalize)
