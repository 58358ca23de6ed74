"""Semantic segmentation as a task component of the distillers."""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mstkd.registry import TASK_UTILS
from .cls_task import ClsTask


@TASK_UTILS.register_module()
class SegTask(ClsTask):
    """What a distiller needs to know about segmentation batches.

    The batch's ``data_samples`` are mmseg ``SegDataSample`` s; labels are
    their ``gt_sem_seg`` maps with void pixels at ``ignore_index`` (255
    after ``reduce_zero_label``): cross-entropy ignores them and every KL
    term averages over the valid pixels. A sample is identified by its image
    path; predictions are the student's ``SegDataSample`` s
    (``postprocess_result``) for mmseg's ``IoUMetric``.

    Args:
        ignore_index (int): Void label. Defaults to 255.
    """

    def __init__(self, ignore_index: int = 255):
        self.ignore_index = ignore_index

    def labels(self, data_samples: Sequence,
               shape: Optional[Sequence[int]] = None) -> Tensor:
        """``(B, H, W)`` label maps, padded at the bottom/right with the void
        label to ``shape`` or to the largest map of the batch (in test mode
        mmseg's ``SegDataPreProcessor`` pads the images, not the labels)."""
        maps = [sample.gt_sem_seg.data.squeeze(0) for sample in data_samples]
        if shape is None:
            shape = (max(m.shape[-2] for m in maps),
                     max(m.shape[-1] for m in maps))
        return torch.stack([self._pad(m, *shape[-2:]) for m in maps])

    def _pad(self, labels: Tensor, height: int, width: int) -> Tensor:
        pad = (0, width - labels.shape[-1], 0, height - labels.shape[-2])
        if any(pad):
            labels = F.pad(labels, pad, value=self.ignore_index)
        return labels.long()

    def valid_mask(self, labels: Tensor) -> Tensor:
        """Non-void pixels ``(B, H, W)``."""
        return labels != self.ignore_index

    def sample_ids(self, data_samples: Sequence) -> Optional[List[str]]:
        # mmseg samples carry no index; the image path identifies a sample.
        paths = [sample.metainfo.get('img_path') for sample in data_samples]
        return None if None in paths else paths

    def predictions(self, student, logits: Tensor, data_samples) -> list:
        return student.postprocess_result(logits, data_samples)
