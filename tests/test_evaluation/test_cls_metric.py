import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import (accuracy_score, balanced_accuracy_score,
                             cohen_kappa_score, f1_score)

from mstkd.evaluation import ClsMetric, metrics_from_confusion


def _run_metric(logits, gt, num_classes, batch=17):
    metric = ClsMetric(num_classes=num_classes)
    for start in range(0, len(gt), batch):
        samples = [dict(logits=logits[i], gt_label=gt[i])
                   for i in range(start, min(start + batch, len(gt)))]
        metric.process(None, samples)
    return metric.compute_metrics(metric.results)


@pytest.mark.parametrize('num_classes,missing', [(10, None), (7, 3)])
def test_matches_sklearn_on_random_predictions(num_classes, missing):
    gen = torch.Generator().manual_seed(num_classes)
    n = 500
    gt = torch.randint(0, num_classes, (n, ), generator=gen)
    if missing is not None:  # a class absent from the ground truth
        gt[gt == missing] = (missing + 1) % num_classes
    logits = torch.randn(n, num_classes, generator=gen)
    logits[torch.arange(n), gt] += 1.0  # better than chance
    m = _run_metric(logits, gt, num_classes)
    y, p = gt.numpy(), logits.argmax(1).numpy()
    assert m['OA'] == pytest.approx(accuracy_score(y, p), abs=1e-12)
    assert m['AA'] == pytest.approx(balanced_accuracy_score(y, p), abs=1e-12)
    assert m['F1'] == pytest.approx(
        f1_score(y, p, average='weighted', zero_division=0), abs=1e-12)
    assert m['kappa'] == pytest.approx(cohen_kappa_score(y, p), abs=1e-12)
    assert m['CE'] == pytest.approx(
        F.cross_entropy(logits, gt).item(), rel=1e-5)


def test_streaming_equals_one_batch():
    gen = torch.Generator().manual_seed(1)
    gt = torch.randint(0, 5, (123, ), generator=gen)
    logits = torch.randn(123, 5, generator=gen)
    assert _run_metric(logits, gt, 5, batch=7) == pytest.approx(
        _run_metric(logits, gt, 5, batch=123))


def test_perfect_and_empty():
    cm = np.diag([3, 4, 5])
    m = metrics_from_confusion(cm)
    assert m == dict(OA=1.0, AA=1.0, F1=1.0, kappa=1.0)
    with pytest.raises(ValueError, match='No samples'):
        metrics_from_confusion(np.zeros((3, 3)))


def test_num_classes_from_dataset_meta():
    metric = ClsMetric()
    with pytest.raises(ValueError, match='num_classes'):
        metric.process(None, [dict(logits=torch.zeros(3), gt_label=0)])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process(None, [dict(logits=torch.tensor([0., 1., 0.]),
                               gt_label=torch.tensor(1))])
    assert metric.compute_metrics(metric.results)['OA'] == 1.0
