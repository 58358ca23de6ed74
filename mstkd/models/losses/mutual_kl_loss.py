"""Bidirectional KL between every pair of predictions (MST-Distill Eq. 2;
DML)."""
import itertools
from typing import Mapping, Optional, Sequence, Union

from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import SoftenedKLLoss


@MODELS.register_module()
class MutualKLLoss(SoftenedKLLoss):
    """``sum_{i<j} KL(P_i || P_j) + KL(P_j || P_i)`` over M predictions.

    MST-Distill Eq. 2 (S1 alignment, batch mean as Eq. 4) with
    ``detach=False``: no detachment, every term trains both members of its
    pair. ``detach=True`` is the DML form (Zhang et al., "Deep Mutual
    Learning", CVPR 2018, Eq. 2-3; MST-Distill Table 7): each direction
    ``KL(P_j.detach() || P_i)`` trains only the member being taught; the
    summed value is the same.

    Args:
        temperature (float): ``tau`` of Eq. 3. Defaults to 1.0.
        detach (bool): DML-style detachment. Defaults to False.
        scale_by_t2 (bool): Defaults to True.
        normalize (str): Dense mean over ``'valid'`` or ``'all'`` pixels.
        peer_mean (bool): Divide by ``M - 1``: each member is taught by the
            mean of its peers (DML Eq. 10, ``1 / (K - 1)``). Defaults to
            False (MST-Distill Eq. 2, the sum).
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_align'``.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 detach: bool = False,
                 scale_by_t2: bool = True,
                 normalize: str = 'valid',
                 peer_mean: bool = False,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_align'):
        super().__init__(temperature, scale_by_t2, normalize, loss_weight,
                         loss_name)
        self.detach = detach
        self.peer_mean = peer_mean

    def forward(self,
                logits: Union[Sequence[Tensor], Mapping[str, Tensor]],
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Args:
            logits (Sequence[Tensor] | Mapping[str, Tensor]): The M
                predictions ``(B, C[, *spatial])``.
            valid_mask (Tensor, optional): Dense valid pixels.
        """
        zs = list(logits.values() if isinstance(logits, Mapping) else logits)
        if not zs:
            raise ValueError('MutualKLLoss needs at least one prediction')
        align = zs[0].new_zeros(())
        for i, j in itertools.combinations(range(len(zs)), 2):
            zi, zj = zs[i], zs[j]
            if self.detach:  # each direction trains only the one taught
                align = align + self.kl(zj.detach(), zi, valid_mask)
                align = align + self.kl(zi.detach(), zj, valid_mask)
            else:
                align = align + self.kl(zi, zj, valid_mask)
                align = align + self.kl(zj, zi, valid_mask)
        if self.peer_mean and len(zs) > 1:
            align = align / (len(zs) - 1)
        return self.loss_weight * align
