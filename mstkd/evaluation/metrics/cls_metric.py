"""OA, AA, weighted F1 and Cohen's kappa from a streamed confusion matrix."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric

from mstkd.registry import METRICS


def confusion_matrix(pred: torch.Tensor, gt: torch.Tensor,
                     num_classes: int) -> torch.Tensor:
    """``cm[i, j]`` counts samples of true class ``i`` predicted as ``j``."""
    idx = gt.long() * num_classes + pred.long()
    return torch.bincount(idx, minlength=num_classes**2).reshape(
        num_classes, num_classes)


def metrics_from_confusion(cm: np.ndarray) -> Dict[str, float]:
    """Exact OA, AA, weighted F1 and kappa of a confusion matrix.

    AA is the mean recall over the classes present in the ground truth (as
    scikit-learn's ``balanced_accuracy_score``); weighted F1 weights each
    class's F1 by its support (``f1_score(average='weighted')``); kappa is
    Cohen's (``cohen_kappa_score``).
    """
    cm = cm.astype(np.float64)
    total = cm.sum()
    if total == 0:
        raise ValueError('No samples were evaluated.')
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    present = support > 0
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=present)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp),
                          where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp),
                   where=denom > 0)
    oa = tp.sum() / total
    expected = (support * predicted).sum() / total**2
    kappa = (oa - expected) / (1 - expected) if expected < 1 else 0.0
    return dict(
        OA=float(oa),
        AA=float(recall[present].mean()),
        F1=float((f1 * support).sum() / total),
        kappa=float(kappa))


@METRICS.register_module()
class ClsMetric(BaseMetric):
    """Classification metric: OA, AA, weighted F1, Cohen's kappa and the
    mean cross-entropy ``CE`` (the paper selects models by validation loss;
    the key is not called "loss" because mmengine's log processor averages
    every "*loss*" key over a window of epochs).

    Per batch only a confusion matrix and a loss sum are kept, so the metric
    is streaming, exact and cheap to gather across processes.

    Args:
        num_classes (int, optional): Defaults to ``len(dataset_meta
            ['classes'])``.
        collect_device (str): 'cpu' or 'gpu' for distributed gathering.
        prefix (str, optional): Prefix of the metric names.
    """

    default_prefix = None

    def __init__(self, num_classes: Optional[int] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes

    def _num_classes(self) -> int:
        if self.num_classes is not None:
            return self.num_classes
        if self.dataset_meta and self.dataset_meta.get('classes'):
            return len(self.dataset_meta['classes'])
        raise ValueError('ClsMetric needs num_classes or a dataset whose '
                         'metainfo lists its classes.')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if not data_samples:
            return
        n = self._num_classes()
        logits = torch.stack([d['logits'] for d in data_samples]).float()
        gt = torch.stack([torch.as_tensor(d['gt_label'])
                          for d in data_samples]).to(logits.device).long()
        pred = logits.argmax(dim=1)
        nll = F.cross_entropy(logits, gt, reduction='sum')
        self.results.append(
            dict(cm=confusion_matrix(pred, gt, n).cpu().numpy(),
                 nll=float(nll), count=int(gt.numel())))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        cm = sum(r['cm'] for r in results)
        metrics = metrics_from_confusion(cm)
        metrics['CE'] = sum(r['nll'] for r in results) / sum(
            r['count'] for r in results)
        return metrics
