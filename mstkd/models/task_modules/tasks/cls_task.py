"""Classification as a task component of the distillers."""
from typing import List, Optional

import torch
from torch import Tensor

from mstkd.registry import TASK_UTILS


def pack_predictions(logits: Tensor,
                     data_samples: Optional[dict]) -> List[dict]:
    """One dict per sample, the format :class:`ClsMetric` consumes."""
    logits = logits.detach()
    labels = logits.argmax(dim=1)
    gt = data_samples.get('gt_label') if data_samples else None
    out = []
    for i in range(logits.shape[0]):
        item = dict(logits=logits[i], pred_label=labels[i])
        if gt is not None:
            item['gt_label'] = gt[i]
        out.append(item)
    return out


@TASK_UTILS.register_module()
class ClsTask:
    """What a distiller needs to know about classification batches.

    The batch's ``data_samples`` is a dict with ``gt_label`` ``(B,)`` and
    optionally ``sample_idx`` ``(B,)`` (the datasets of
    :mod:`mstkd.datasets`). Every sample is valid: KL terms average over the
    batch. Predictions are dicts of logits and labels for
    :class:`~mstkd.evaluation.ClsMetric`.
    """

    #: Label ignored by cross-entropy (none in classification).
    ignore_index = -100

    def labels(self, data_samples: dict, shape=None) -> Tensor:
        """Targets ``(B,)``."""
        return data_samples['gt_label']

    def valid_mask(self, labels: Tensor) -> Optional[Tensor]:
        """Elements a loss averages over: None (all samples)."""
        return None

    def sample_ids(self, data_samples: dict) -> Optional[list]:
        """Dataset indices of the samples (keys of per-sample caches and
        memory banks), or None when the batch carries none."""
        ids = data_samples.get('sample_idx')
        if ids is None:
            return None
        return [int(i) for i in (ids.tolist() if isinstance(ids, torch.Tensor)
                                 else ids)]

    def predictions(self, student, logits: Tensor, data_samples) -> list:
        """The student's predictions in the metric's format."""
        return pack_predictions(logits, data_samples)
