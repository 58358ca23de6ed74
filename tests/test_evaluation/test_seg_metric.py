"""SegMetric (mmseg IoUMetric + OA/AA/CE) against a direct confusion-matrix
computation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mstkd.evaluation import SegMetric


def _samples(rng, num_classes, n=3, h=7, w=9):
    samples = []
    for _ in range(n):
        gt = rng.randint(0, num_classes, size=(h, w))
        gt[rng.rand(h, w) < 0.2] = 255  # void
        logits = torch.from_numpy(rng.randn(num_classes, h, w)).float()
        samples.append(dict(
            seg_logits=dict(data=logits),
            pred_sem_seg=dict(data=logits.argmax(0, keepdim=True)),
            gt_sem_seg=dict(data=torch.from_numpy(gt)[None].long())))
    return samples


def _direct(samples, num_classes):
    cm = np.zeros((num_classes, num_classes), np.int64)
    ce, pixels = 0.0, 0
    for s in samples:
        gt = s['gt_sem_seg']['data'][0].numpy()
        pred = s['pred_sem_seg']['data'][0].numpy()
        valid = gt != 255
        np.add.at(cm, (gt[valid], pred[valid]), 1)
        logits = s['seg_logits']['data'].double()
        logp = F.log_softmax(logits, 0).numpy()
        g = np.where(valid, gt, 0)
        nll = -np.take_along_axis(logp, g[None], 0)[0]
        ce += nll[valid].sum()
        pixels += valid.sum()
    tp = np.diag(cm).astype(float)
    gt_count, pred_count = cm.sum(1), cm.sum(0)
    present = gt_count > 0
    union = gt_count + pred_count - tp
    return dict(OA=tp.sum() / cm.sum(),
                AA=(tp[present] / gt_count[present]).mean(),
                mIoU=(tp[union > 0] / union[union > 0]).mean(),
                CE=ce / pixels)


def test_seg_metric_matches_confusion_matrix():
    rng = np.random.RandomState(0)
    num_classes = 5
    metric = SegMetric()
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(num_classes)])
    samples = _samples(rng, num_classes)
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])
    out = metric.evaluate(len(samples))
    ref = _direct(samples, num_classes)
    assert out['OA'] == pytest.approx(ref['OA'], abs=1e-12)
    assert out['AA'] == pytest.approx(ref['AA'], abs=1e-12)
    assert out['mIoU_frac'] == pytest.approx(ref['mIoU'], abs=1e-12)
    assert out['CE'] == pytest.approx(ref['CE'], rel=1e-5)
    # mmseg's own keys (percent, 2 decimals) agree.
    assert out['aAcc'] == pytest.approx(100 * ref['OA'], abs=0.006)
    assert out['mAcc'] == pytest.approx(100 * ref['AA'], abs=0.006)
    assert out['mIoU'] == pytest.approx(100 * ref['mIoU'], abs=0.006)


def test_seg_metric_void_pixels_do_not_count():
    metric = SegMetric()
    metric.dataset_meta = dict(classes=['a', 'b'])
    logits = torch.tensor([[[5.0, -5.0]], [[-5.0, 5.0]]])  # pred [0, 1]
    gt = torch.tensor([[[0, 255]]])
    metric.process({}, [dict(seg_logits=dict(data=logits),
                             pred_sem_seg=dict(data=logits.argmax(0)[None]),
                             gt_sem_seg=dict(data=gt))])
    out = metric.evaluate(1)
    assert out['OA'] == 1.0 and out['AA'] == 1.0
    assert out['CE'] == pytest.approx(
        F.cross_entropy(torch.tensor([[5.0, -5.0]]), torch.tensor([0])).item())
