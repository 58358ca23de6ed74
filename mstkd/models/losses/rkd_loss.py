"""Relational knowledge distillation (RKD): distance- and angle-wise."""
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import MODELS
from .base_loss import BaseLoss


def pairwise_distances(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Euclidean distances between the rows of ``x`` (``B x B``), zero on
    the diagonal (the RKD authors' ``pdist``)."""
    sq = x.pow(2).sum(1)
    dist = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * x @ x.t()).clamp(
        min=eps).sqrt()
    eye = torch.eye(len(x), dtype=torch.bool, device=x.device)
    return dist.masked_fill(eye, 0)


def distance_potential(x: Tensor) -> Tensor:
    """RKD's distance-wise potential (Sec. 3.2.1): pairwise distances over
    their mean over the pairs i != j of the batch."""
    dist = pairwise_distances(x)
    return dist / dist[dist > 0].mean()


#: ``B x B x D`` elements above which :func:`angle_potential` ('auto')
#: takes the Gram form (``2**26``: 256 MiB of float32 differences).
DIRECT_ANGLE_LIMIT = 2**26


def angle_potential(x: Tensor, mode: str = 'auto') -> Tensor:
    """RKD's angle-wise potential (Sec. 3.2.2): ``cos <e_ij, e_kj>`` for
    every triplet, with
    ``e_ij = (x_i - x_j) / ||x_i - x_j||`` (``B^3`` values).

    ``mode='direct'`` normalises the ``B x B x D`` differences (the RKD
    authors' code); ``'gram'`` gets the same cosines from the Gram matrix of
    the batch, ``<x_i - x_j, x_k - x_j> = G_ik - G_ij - G_jk + G_jj``, in
    ``B^3`` memory whatever the width ``D`` (a 25,088-d AV-MNIST audio
    feature at batch 512: 26 GB of differences directly); the features are
    centred first (differences do not change; less cancellation). A
    repeated sample (zero distance) counts as one point in both forms
    (cosine 0, as a normalised zero difference); in the Gram form the
    distance of two very close samples (below about 1e-3 of the features'
    scale, float32) carries rounding error. ``'auto'``: direct up to
    :data:`DIRECT_ANGLE_LIMIT` elements, else Gram.
    """
    if mode not in ('auto', 'direct', 'gram'):
        raise ValueError(f"angle_potential: mode {mode!r}; use 'auto', "
                         "'direct' or 'gram'.")
    if mode == 'direct' or (mode == 'auto' and
                            x.numel() * len(x) <= DIRECT_ANGLE_LIMIT):
        diff = F.normalize(x.unsqueeze(0) - x.unsqueeze(1), p=2, dim=2)
        return torch.bmm(diff, diff.transpose(1, 2)).flatten()
    x = x - x.mean(0, keepdim=True)
    gram = x @ x.t()
    sq = gram.diagonal()
    # dot[j, i, k] = <x_i - x_j, x_k - x_j>
    dot = gram.unsqueeze(0) - gram.unsqueeze(2) - gram.unsqueeze(1) + \
        sq.view(-1, 1, 1)
    norm = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * gram).clamp(
        min=1e-12).sqrt()  # norm[j, i] = ||x_i - x_j||
    apart = norm > 1e-6
    cos = dot / (norm.unsqueeze(2) * norm.unsqueeze(1))
    return torch.where(apart.unsqueeze(2) & apart.unsqueeze(1), cos,
                       torch.zeros_like(cos)).flatten()


@MODELS.register_module()
class RKDLoss(BaseLoss):
    """``w_d L_D + w_a L_A`` between the structures of student and teacher
    embeddings of one batch.

    Park et al., "Relational Knowledge Distillation", CVPR 2019: the
    distance-wise (Sec. 3.2.1) and angle-wise (Sec. 3.2.2) losses, each a
    Huber (smooth L1) loss between the student's and the teacher's
    potentials; ``w_d = 1, w_a = 2`` (Sec. 4, the paper's weights). The
    embeddings may have different widths (only relations are compared); a
    feature map is flattened. The teacher is detached by default.

    Args:
        distance_weight (float): ``w_d``. Defaults to 1.0.
        angle_weight (float): ``w_a``. Defaults to 2.0.
        angle_mode (str): How the angles are computed (the same values, see
            :func:`angle_potential`): 'auto' (direct for small batches x
            widths, else from the Gram matrix), 'direct' or 'gram'.
            Defaults to 'auto'.
        detach_target (bool): Defaults to True.
        loss_weight (float | dict): Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_rkd'``.
    """

    #: Batch-level (see BaseLoss): the pairs and triplets of one batch.
    batch_level = True

    def __init__(self,
                 distance_weight: float = 1.0,
                 angle_weight: float = 2.0,
                 angle_mode: str = 'auto',
                 detach_target: bool = True,
                 loss_weight: Union[float, dict] = 1.0,
                 loss_name: str = 'loss_rkd'):
        super().__init__(loss_weight, loss_name)
        self.distance_weight = distance_weight
        self.angle_weight = angle_weight
        if angle_mode not in ('auto', 'direct', 'gram'):
            raise ValueError(f"RKDLoss: angle_mode {angle_mode!r}; use "
                             "'auto', 'direct' or 'gram'.")
        self.angle_mode = angle_mode
        self.detach_target = detach_target

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if len(pred) != len(target) or len(pred) < 2:
            raise ValueError(
                f'RKDLoss compares the relations of one batch: pred and '
                f'target need the same batch size >= 2, got {len(pred)} and '
                f'{len(target)}.')
        pred, target = pred.flatten(1), target.flatten(1)
        if self.detach_target:
            target = target.detach()
        loss = pred.new_zeros(())
        if self.distance_weight:
            loss = loss + self.distance_weight * F.smooth_l1_loss(
                distance_potential(pred), distance_potential(target))
        if self.angle_weight:
            loss = loss + self.angle_weight * F.smooth_l1_loss(
                angle_potential(pred, self.angle_mode),
                angle_potential(target, self.angle_mode))
        return self.loss_weight * loss
