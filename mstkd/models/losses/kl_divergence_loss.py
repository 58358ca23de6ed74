"""Temperature KL divergence between two predictions (logit KD)."""
from typing import Optional, Union

from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import SoftenedKLLoss


@MODELS.register_module()
class KLDivergenceLoss(SoftenedKLLoss):
    """``T^2 KL(softmax(target / T) || softmax(pred / T))``.

    Hinton et al., "Distilling the Knowledge in a Neural Network" (2015),
    Eq. 2 with the ``T^2`` scaling of Sec. 2; MST-Distill Eq. 8 (S2: ``pred``
    = the masked teacher, ``target`` = the student) and Eq. 14 for one
    teacher. The target is detached by default: only ``pred`` learns.
    Dense inputs ``(B, C, H, W)`` give a per-pixel KL averaged over the
    valid pixels (``valid_mask``, from the task inside a distiller).

    Args:
        temperature (float): Defaults to 1.0.
        scale_by_t2 (bool): Multiply by ``T^2``. Defaults to True.
        normalize (str): Dense mean over ``'valid'`` pixels or ``'all'``
            (void included, the MST reference release). Defaults to
            ``'valid'``.
        detach_target (bool): Defaults to True.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_kd'``.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 scale_by_t2: bool = True,
                 normalize: str = 'valid',
                 detach_target: bool = True,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_kd'):
        super().__init__(temperature, scale_by_t2, normalize, loss_weight,
                         loss_name)
        self.detach_target = detach_target

    def forward(self,
                pred: Tensor,
                target: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        if self.detach_target:
            target = target.detach()
        return self.loss_weight * self.kl(target, pred, valid_mask)
