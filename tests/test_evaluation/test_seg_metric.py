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


def _release_metrics(prediction, target, n_classes, ignored_labels):
    """``utils.py`` ``metrics`` of the public MST-Distill release (093b2fe),
    unrounded: scikit-learn's confusion matrix over ``labels=1..n-1``."""
    from sklearn.metrics import confusion_matrix
    prediction, target = np.asarray(prediction), np.asarray(target)
    keep = ~np.isin(target, [ignored_labels])
    target, prediction = target[keep], prediction[keep]
    valid_labels = [c for c in range(n_classes) if c != ignored_labels]
    cm = confusion_matrix(target, prediction, labels=valid_labels)
    oa = np.trace(cm) / cm.sum()
    with np.errstate(invalid='ignore', divide='ignore'):
        recalls = [cm[i, i] / cm[i, :].sum() for i in range(len(cm))]
        ious = [cm[i, i] / (cm[:, i].sum() + cm[i, :].sum() - cm[i, i])
                for i in range(len(cm))]
    return dict(OA=oa, AA=np.mean([r for r in recalls if not np.isnan(r)]),
                mIoU=np.nanmean(ious))


def test_release_label_space_and_void_predictions():
    """41-output NYU setting of the release (void = class 0, predicted void
    pixels dropped) equals the release's own formula."""
    rng = np.random.RandomState(3)
    num_classes = 6  # void + 5
    samples = []
    for _ in range(3):
        gt = rng.randint(0, num_classes, size=(8, 10))
        logits = torch.from_numpy(rng.randn(num_classes, 8, 10)).float()
        logits[0] += 0.8  # void is predicted at many labelled pixels
        samples.append(dict(
            seg_logits=dict(data=logits),
            pred_sem_seg=dict(data=logits.argmax(0, keepdim=True)),
            gt_sem_seg=dict(data=torch.from_numpy(gt)[None].long())))
    pred = np.concatenate(
        [s['pred_sem_seg']['data'].numpy().ravel() for s in samples])
    gt = np.concatenate(
        [s['gt_sem_seg']['data'].numpy().ravel() for s in samples])
    assert ((pred == 0) & (gt != 0)).sum() > 20
    ref = _release_metrics(pred, gt, num_classes, 0)

    meta = dict(classes=['void'] + [f'c{i}' for i in range(1, num_classes)])
    release = SegMetric(ignore_index=0, ignore_predicted_index=0)
    release.dataset_meta = meta
    release.process({}, samples)
    out = release.evaluate(len(samples))
    for key, ours in (('OA', 'OA'), ('AA', 'AA'), ('mIoU', 'mIoU_frac')):
        assert out[ours] == pytest.approx(ref[key], abs=1e-12), key
    assert out['mIoU'] == pytest.approx(100 * ref['mIoU'], abs=5e-3)
    # CE keeps every labelled pixel (the release's CrossEntropyLoss with
    # ignore_index=0), predicted void or not
    logits = torch.stack([s['seg_logits']['data'] for s in samples])
    labels = torch.stack([s['gt_sem_seg']['data'][0] for s in samples])
    ce = F.cross_entropy(logits.double(), labels, ignore_index=0)
    assert out['CE'] == pytest.approx(float(ce), abs=1e-6)  # float32 sums

    # without the switch a void prediction at a labelled pixel is an error
    strict = SegMetric(ignore_index=0)
    strict.dataset_meta = meta
    strict.process({}, samples)
    plain = strict.evaluate(len(samples))
    assert plain['OA'] < out['OA'] - 0.05
    keep = gt != 0
    assert plain['OA'] == pytest.approx(float((pred == gt)[keep].mean()),
                                        abs=1e-12)
