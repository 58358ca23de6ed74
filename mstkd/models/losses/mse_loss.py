"""Mean squared error between features (FitNets hints)."""
from typing import Optional, Union

import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss
from .utils import masked_mean


@MODELS.register_module()
class MSELoss(BaseLoss):
    """``mean((pred - target)^2)`` over every element.

    The hint loss of FitNets (Romero et al., ICLR 2015, Eq. 3, there with a
    factor 1/2 and a sum: set ``loss_weight`` accordingly) between a
    regressed student feature and a teacher feature; the target is detached
    by default.

    Dense maps ``(B, C, *spatial)`` with a ``valid_mask`` (the task's, inside
    a distiller: segmentation) give the mean over the channels and the
    valid label pixels (:func:`~mstkd.models.losses.utils.masked_mean`): a
    map at the label resolution (logit maps, MGDFR's overlap term) counts
    the non-void pixels; a coarser one (a FitNets hint at the encoder-decoder
    bottleneck) weighs each cell by the fraction of valid pixels it covers.
    Without a mask (classification: the task gives none), or for vector
    inputs ``(B, D)``, the mean over every element.

    Args:
        detach_target (bool): Defaults to True.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_mse'``.
    """

    def __init__(self,
                 detach_target: bool = True,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_mse'):
        super().__init__(loss_weight, loss_name)
        self.detach_target = detach_target

    def forward(self, pred: Tensor, target: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(
                f'MSELoss: pred {tuple(pred.shape)} and target '
                f'{tuple(target.shape)} differ; put a connector on the '
                'student feature to match the teacher (connectors get their '
                'widths from a dry forward).')
        if self.detach_target:
            target = target.detach()
        if valid_mask is None or pred.dim() < 3:
            return self.loss_weight * F.mse_loss(pred, target)
        return self.loss_weight * masked_mean((pred - target).pow(2),
                                              valid_mask)
