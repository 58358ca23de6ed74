"""MST-Distill for semantic segmentation (paper Sec. 4.2, NYU-Depth-V2).

The members are mmseg segmentors (e.g. :class:`~mstkd.models.segmentors.
FuseNet` and its branch nets) that all read the same ``(B, C_in, H, W)``
batch tensor; the knowledge is transferred at the encoder-decoder bottleneck
by 2-D MaskNets (spatially reduced mask, broadcast over H, W). Every KL term
of Eq. 2, 8 and 14 is a per-pixel temperature KL averaged over the valid
(non-void) pixels; the routing of Eq. 11-13 is per image (a
:class:`~mstkd.models.distill.gatenet.DenseGateNet` over the pooled logit
map).
"""
from typing import List, Optional

import torch
import torch.nn.functional as F

from mstkd.registry import MODELS
from .mst_distill import MSTDistill


@MODELS.register_module()
class DenseMSTDistill(MSTDistill):
    """:class:`MSTDistill` on label maps.

    Differences from the classification algorithm, all in the task hooks:

    - labels are the ``gt_sem_seg`` maps of mmseg ``SegDataSample`` s (void
      = ``ignore_index``, 255 after ``reduce_zero_label``), ignored by CE;
    - KL terms (S1 alignment, S2 MaskNet objective, S3 DKD) are per-pixel
      and averaged over the valid pixels (paper). The public release divides
      by ``B * H * W`` including void pixels: ``reference_compat=dict(
      dense_kd_divide_all=True)``;
    - ``predict`` returns the student's ``SegDataSample`` s (``seg_logits``,
      ``pred_sem_seg`` at the original image size) for mmseg's
      ``IoUMetric``;
    - the teacher-output cache is off by default: N logit maps per training
      image (40 x 480 x 640 floats each) do not fit in memory for NYU.

    Args:
        ignore_index (int): Void label. Defaults to 255.
        gate (dict, optional): Defaults to ``dict(type='DenseGateNet')``.
        cache_teacher_outputs (bool): Defaults to False (see above).
        **kwargs: See :class:`MSTDistill`.
    """

    def __init__(self,
                 *args,
                 ignore_index: int = 255,
                 gate: Optional[dict] = None,
                 cache_teacher_outputs: bool = False,
                 **kwargs):
        super().__init__(
            *args,
            gate=dict(dict(type='DenseGateNet'), **(gate or {})),
            cache_teacher_outputs=cache_teacher_outputs,
            **kwargs)
        self.ignore_index = ignore_index

    def _labels(self, data_samples) -> torch.Tensor:
        """``(B, H, W)`` label maps, padded at the bottom/right with the
        void label to the largest map of the batch (in test mode mmseg's
        ``SegDataPreProcessor`` pads the images but not the labels)."""
        maps = [sample.gt_sem_seg.data.squeeze(0) for sample in data_samples]
        height = max(m.shape[-2] for m in maps)
        width = max(m.shape[-1] for m in maps)
        return torch.stack([self._pad(m, height, width) for m in maps])

    def _pad(self, labels: torch.Tensor, height: int,
             width: int) -> torch.Tensor:
        pad = (0, width - labels.shape[-1], 0, height - labels.shape[-2])
        if any(pad):
            labels = F.pad(labels, pad, value=self.ignore_index)
        return labels.long()

    def _track_masknet_val(self, inputs, student, labels=None) -> None:
        # Validation labels are not padded to the (size-divisor) input size.
        if labels is not None:
            labels = self._pad(labels, *student.shape[-2:])
        super()._track_masknet_val(inputs, student, labels)

    def _sample_idx(self, data_samples) -> Optional[List[str]]:
        # mmseg samples carry no index; the image path identifies a sample.
        paths = [sample.metainfo.get('img_path') for sample in data_samples]
        return None if None in paths else paths

    def _valid_mask(self, labels) -> torch.Tensor:
        return labels != self.ignore_index

    def _predictions(self, student: torch.Tensor, data_samples):
        return self.members[self.target].postprocess_result(
            student, data_samples)
