"""Segmentation metrics of the paper's Table 2: mIoU, OA and AA.

mmseg's :class:`IoUMetric` does the accumulation (per-image intersection,
union, prediction and label areas, reduced once: streaming and exact) and
prints the per-class IoU/Acc table; this subclass adds the names the paper
reports and the validation loss used for model selection.
"""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.evaluation.metrics import IoUMetric

from mstkd.registry import METRICS


@METRICS.register_module()
class SegMetric(IoUMetric):
    """:class:`mmseg.evaluation.IoUMetric` plus ``OA``, ``AA`` and ``CE``.

    Keys: mmseg's ``aAcc``, ``mIoU``, ``mAcc`` (percent, 2 decimals, as
    mmseg reports them), and

    - ``OA``: overall pixel accuracy over non-void pixels (= aAcc / 100,
      unrounded);
    - ``AA``: mean per-class accuracy (recall) over the classes present in
      the ground truth (= mAcc / 100, unrounded);
    - ``mIoU_frac``: mIoU as a fraction, unrounded;
    - ``CE``: the pixel cross-entropy of the predicted logits over non-void
      pixels, i.e. the validation loss of the paper's model selection
      (named CE: mmengine smooths every log key containing "loss").

    Args:
        ignore_index (int): Void label. Defaults to 255.
        with_loss (bool): Compute ``CE`` (needs ``seg_logits`` in the
            predictions, which mmseg segmentors provide). Defaults to True.
        ignore_predicted_index (int, optional): Also drop the pixels
            *predicted* as this class from the areas (not from ``CE``).
            None (default): every labelled pixel counts, a wrong prediction
            of any class is an error. 0 with ``ignore_index=0`` and 41
            classes is the public MST-Distill release's NYU metric
            (``utils.py`` ``metrics``: scikit-learn
            ``confusion_matrix(labels=1..40)`` keeps only pixels whose label
            *and* prediction lie in 1..40, so a void prediction at a
            labelled pixel is not counted as an error).
        **kwargs: :class:`IoUMetric` arguments.
    """

    def __init__(self, ignore_index: int = 255, with_loss: bool = True,
                 ignore_predicted_index: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(ignore_index=ignore_index, **kwargs)
        self.with_loss = with_loss
        self.ignore_predicted_index = ignore_predicted_index

    def intersect_and_union(self, pred_label: torch.Tensor,
                            label: torch.Tensor, num_classes: int,
                            ignore_index: int):
        """mmseg's per-image areas, after dropping the pixels predicted as
        ``ignore_predicted_index`` (when set)."""
        if self.ignore_predicted_index is not None:
            label = label.masked_fill(
                pred_label == self.ignore_predicted_index, ignore_index)
        return IoUMetric.intersect_and_union(pred_label, label, num_classes,
                                             ignore_index)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        if self.format_only:
            return
        for i, sample in enumerate(data_samples):
            ce, valid = torch.zeros((), dtype=torch.float64), 0
            if self.with_loss and 'seg_logits' in sample:
                logits = sample['seg_logits']['data'].float()
                label = sample['gt_sem_seg']['data'].squeeze(0).long().to(
                    logits.device)
                mask = label != self.ignore_index
                valid = int(mask.sum())
                if valid:
                    ce = F.cross_entropy(
                        logits.unsqueeze(0), label.unsqueeze(0),
                        ignore_index=self.ignore_index,
                        reduction='sum').double().cpu()
            self.results[start + i] = (*self.results[start + i], ce, valid)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        areas = [r[:4] for r in results]
        # mmseg's values are numpy scalars: plain floats for logs and JSON
        metrics = OrderedDict(
            (k, float(v)) for k, v in super().compute_metrics(areas).items())
        inter, union, _, label = (sum(col) for col in zip(*areas))
        label = label.double()
        valid_classes = label > 0
        metrics['OA'] = float(inter.sum() / label.sum().clamp_min(1))
        metrics['AA'] = float(
            (inter.double()[valid_classes] / label[valid_classes]).mean())
        metrics['mIoU_frac'] = float(
            (inter.double()[union > 0] / union.double()[union > 0]).mean())
        if self.with_loss:
            ce = sum(float(r[4]) for r in results)
            pixels = sum(int(r[5]) for r in results)
            if pixels:
                metrics['CE'] = ce / pixels
        return metrics
