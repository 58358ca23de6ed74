"""The losses against explicit loops in numpy (MST-Distill Eq. 1-4, 8-10,
14, 16-18; KD; FitNets' MSE), their gradients and their weights."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mstkd.models.losses import (CrossEntropyLoss, KLDivergenceLoss,
                                 LoadBalanceLoss, MSELoss, MutualKLLoss,
                                 RoutedKDLoss, StepDecay, kl_divergence,
                                 load_balance, routed_kd)
from mstkd.registry import MODELS, TASK_UTILS
from tests.helpers import reference_kl


# ---------------------------------------------------------------- numpy refs
def np_softmax(z, t=1.0):
    z = np.asarray(z, dtype=np.float64) / t
    e = np.exp(z - z.max())
    return e / e.sum()


def np_kl(p_logits, q_logits, t=1.0, t2=True):
    """KL(P || Q) of one sample, by an explicit loop over classes."""
    p, q = np_softmax(p_logits, t), np_softmax(q_logits, t)
    kl = sum(p[c] * np.log(p[c] / q[c]) for c in range(len(p)))
    return kl * t * t if t2 else kl


def np_ce(logits, label):
    return -np.log(np_softmax(logits)[label])


def a(x):
    return x.detach().double().numpy()


# ---------------------------------------------------------------- KL
@pytest.mark.parametrize('t,t2', [(1.0, True), (4.0, True), (4.0, False)])
def test_kl_divergence_matches_loop(t, t2):
    torch.manual_seed(0)
    p, q = torch.randn(5, 7), torch.randn(5, 7)
    per = [np_kl(a(p)[b], a(q)[b], t, t2) for b in range(5)]
    out = kl_divergence(p, q, t, scale_by_t2=t2, reduction='none')
    np.testing.assert_allclose(a(out), per, rtol=1e-5)
    np.testing.assert_allclose(
        kl_divergence(p, q, t, t2).item(), np.mean(per), rtol=1e-5)
    np.testing.assert_allclose(
        kl_divergence(p, q, t, t2, reduction='sum').item(), np.sum(per),
        rtol=1e-5)
    assert kl_divergence(p, p).abs().item() < 1e-6


def test_kl_gradients_reach_both_arguments():
    p = torch.randn(3, 4, requires_grad=True)
    q = torch.randn(3, 4, requires_grad=True)
    kl_divergence(p, q, 2.0).backward()
    assert p.grad.abs().sum() > 0 and q.grad.abs().sum() > 0


def test_dense_kl_valid_and_all():
    torch.manual_seed(0)
    b, c, h, w = 2, 5, 3, 4
    p, q = torch.randn(b, c, h, w), torch.randn(b, c, h, w)
    valid = torch.rand(b, h, w) > 0.4
    per = np.zeros((b, h, w))
    for i, y, x in itertools.product(range(b), range(h), range(w)):
        per[i, y, x] = np_kl(a(p)[i, :, y, x], a(q)[i, :, y, x], 4.0)
    np.testing.assert_allclose(
        a(kl_divergence(p, q, 4.0, reduction='none')), per, rtol=1e-4,
        atol=1e-5)
    np.testing.assert_allclose(
        kl_divergence(p, q, 4.0).item(), per.mean(), rtol=1e-5)
    m = valid.numpy()
    np.testing.assert_allclose(
        kl_divergence(p, q, 4.0, valid_mask=valid).item(),
        per[m].sum() / m.sum(), rtol=1e-5)
    # 'all' (the release): every pixel, void included, over B*H*W
    np.testing.assert_allclose(
        kl_divergence(p, q, 4.0, valid_mask=valid, normalize='all').item(),
        per.sum() / (b * h * w), rtol=1e-5)
    with pytest.raises(ValueError):
        kl_divergence(p, q, valid_mask=valid[0])
    with pytest.raises(ValueError):
        kl_divergence(p, q[:, :4])


def test_kl_loss_detaches_the_target_and_is_dense():
    torch.manual_seed(0)
    pred = torch.randn(4, 6, requires_grad=True)
    target = torch.randn(4, 6, requires_grad=True)
    loss = KLDivergenceLoss(temperature=2.0)(pred, target)
    # KL(target || pred): Eq. 8 with pred = masked teacher, target = student
    ref = np.mean([np_kl(a(target)[b], a(pred)[b], 2.0) for b in range(4)])
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-5)
    loss.backward()
    assert target.grad is None and pred.grad.abs().sum() > 0
    p, q = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    mod = MODELS.build(dict(type='KLDivergenceLoss', temperature=4.0,
                            normalize='all', loss_weight=0.5))
    valid = torch.rand(2, 4, 4) > 0.5
    # per pixel, in float64: sum_c P (log P - log Q) at T = 4, times T^2,
    # averaged over all B*H*W pixels, void included ('all')
    np.testing.assert_allclose(
        mod(q, p, valid).item(),
        0.5 * reference_kl(p, q, 4.0, valid, normalize='all').item(),
        rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- Eq. 1-4
def _members(seed=0, n=3, b=6, c=5):
    torch.manual_seed(seed)
    logits = {
        name: torch.randn(b, c, requires_grad=True)
        for name in ['mm', 'image', 'audio'][:n]
    }
    return logits, torch.randint(0, c, (b, ))


def test_cross_entropy_and_mutual_kl_values():
    logits, labels = _members()
    t = 3.0
    z = {k: a(v) for k, v in logits.items()}
    y = labels.numpy()
    ce = CrossEntropyLoss()
    for name in z:
        ref = np.mean([np_ce(z[name][b], y[b]) for b in range(6)])
        np.testing.assert_allclose(ce(logits[name], labels).item(), ref,
                                   rtol=1e-5)
    align = 0.0
    names = list(z)
    for b in range(6):
        for i in range(3):
            for j in range(i + 1, 3):
                zi, zj = z[names[i]][b], z[names[j]][b]
                align += np_kl(zi, zj, t) + np_kl(zj, zi, t)
    joint = MutualKLLoss(t)(logits)
    np.testing.assert_allclose(joint.item(), align / 6, rtol=1e-5)
    # a list of predictions is the same; DML's detach keeps the value
    torch.testing.assert_close(MutualKLLoss(t)(list(logits.values())), joint)
    torch.testing.assert_close(MutualKLLoss(t, detach=True)(logits), joint)
    assert MutualKLLoss()(list(logits.values())[:1]).item() == 0


def _explicit_kl(p_logits, q_logits, t):
    log_p = torch.log_softmax(p_logits / t, 1)
    log_q = torch.log_softmax(q_logits / t, 1)
    return (log_p.exp() * (log_p - log_q)).sum(1).mean() * t * t


def test_mutual_kl_gradients_joint_vs_dml():
    t = 2.0
    logits, labels = _members(1)
    z = list(logits.values())

    def ce():
        return sum(F.cross_entropy(v, labels) for v in z)

    grads = torch.autograd.grad(ce() + MutualKLLoss(t)(z), z)
    # paper: every KL term differentiates through both of its arguments
    ref = ce()
    for i, j in itertools.permutations(range(3), 2):
        ref = ref + _explicit_kl(z[i], z[j], t)
    ref_grads = torch.autograd.grad(ref, z)
    for g, r in zip(grads, ref_grads):
        assert g.abs().sum() > 0
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-5)
    # DML: member i only gets grads from CE_i + sum_j KL(Pj.detach() || Pi)
    dml_grads = torch.autograd.grad(
        ce() + MutualKLLoss(t, detach=True)(z), z)
    for i in range(3):
        own = F.cross_entropy(z[i], labels)
        for j in range(3):
            if j != i:
                own = own + _explicit_kl(z[j].detach(), z[i], t)
        (expected, ) = torch.autograd.grad(own, z[i])
        torch.testing.assert_close(dml_grads[i], expected, atol=1e-6,
                                   rtol=1e-5)
        assert not torch.allclose(dml_grads[i], grads[i], atol=1e-4)


def test_dense_ce_ignore_index_and_mutual_kl_valid_mask():
    torch.manual_seed(0)
    logits = {k: torch.randn(2, 4, 3, 3) for k in ('rgb', 'depth')}
    labels = torch.randint(0, 4, (2, 3, 3))
    labels[0, 0] = 255
    valid = labels != 255
    # both directions, per pixel in float64, mean over the valid pixels
    expected = reference_kl(logits['rgb'], logits['depth'], 1.0, valid) + \
        reference_kl(logits['depth'], logits['rgb'], 1.0, valid)
    np.testing.assert_allclose(
        MutualKLLoss()(logits, valid).item(), expected.item(), rtol=1e-5,
        atol=1e-7)
    ce = CrossEntropyLoss()(logits['rgb'], labels, ignore_index=255)
    per = F.cross_entropy(logits['rgb'], labels.clamp(max=3),
                          reduction='none')
    torch.testing.assert_close(ce, per[valid].mean())


# ---------------------------------------------------------------- Eq. 14
def test_routed_kd_matches_loop_and_grads():
    torch.manual_seed(0)
    n, b, c, k, temp = 4, 5, 6, 2, 3.0
    student = torch.randn(b, c, requires_grad=True)
    teachers = torch.randn(n, b, c, requires_grad=True)
    idx = torch.stack([torch.randperm(n)[:k] for _ in range(b)])
    loss = RoutedKDLoss(temp)(student, teachers, idx)
    # Eq. 14: the sum over the k selected teachers, then the batch mean
    ref = np.mean([
        sum(np_kl(a(teachers)[j, i], a(student)[i], temp)
            for j in idx[i].tolist()) for i in range(b)
    ])
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-5)
    loss.backward()
    assert teachers.grad is None
    assert student.grad.abs().sum() > 0
    torch.testing.assert_close(
        routed_kd(student, list(teachers), idx, temp), loss)


def test_routed_kd_without_routing_is_the_mean_over_teachers():
    torch.manual_seed(0)
    student, teachers = torch.randn(3, 4), torch.randn(5, 3, 4)
    ref = np.mean([
        np.mean([np_kl(a(teachers)[j, i], a(student)[i]) for j in range(5)])
        for i in range(3)
    ])
    np.testing.assert_allclose(
        RoutedKDLoss()(student, teachers).item(), ref, rtol=1e-5)
    with pytest.raises(ValueError):
        RoutedKDLoss()(student, teachers[:, :2])


def test_dense_routed_kd():
    torch.manual_seed(0)
    n, b, c, h, w = 3, 2, 4, 2, 3
    student = torch.randn(b, c, h, w)
    teachers = torch.randn(n, b, c, h, w)
    idx = torch.tensor([[2], [0]])
    valid = torch.rand(b, h, w) > 0.3
    per = np.zeros((b, h, w))
    for i, y, x in itertools.product(range(b), range(h), range(w)):
        j = idx[i, 0].item()
        per[i, y, x] = np_kl(a(teachers)[j, i, :, y, x],
                             a(student)[i, :, y, x], 4.0)
    m = valid.numpy()
    np.testing.assert_allclose(
        RoutedKDLoss(4.0)(student, teachers, idx, valid).item(),
        per[m].sum() / m.sum(), rtol=1e-5)
    np.testing.assert_allclose(
        RoutedKDLoss(4.0, normalize='all')(student, teachers, idx,
                                           valid).item(),
        per.sum() / per.size, rtol=1e-5)


# ---------------------------------------------------------------- Eq. 16-17
def test_load_balance_kl_and_cv():
    torch.manual_seed(0)
    probs = torch.softmax(torch.randn(8, 4), 1).requires_grad_()
    p = a(probs)
    c_bar = p.mean(0)
    kl = sum(0.25 * (np.log(0.25) - np.log(c_bar[j])) for j in range(4))
    np.testing.assert_allclose(load_balance(probs).item(), kl, rtol=1e-5)
    np.testing.assert_allclose(
        LoadBalanceLoss(divide_by_n=True)(probs).item(), kl / 4, rtol=1e-5)
    imp = p.sum(0)
    cv = np.var(imp, ddof=1) / np.mean(imp)**2
    np.testing.assert_allclose(LoadBalanceLoss('cv')(probs).item(), cv,
                               rtol=1e-4)
    uniform = torch.full((8, 4), 0.25)
    assert load_balance(uniform).abs().item() < 1e-6
    assert load_balance(uniform, 'cv').abs().item() < 1e-6
    LoadBalanceLoss()(probs).backward()
    assert probs.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        LoadBalanceLoss('entropy')


# ---------------------------------------------------------------- FitNets
def test_mse_loss_and_shape_error():
    pred = torch.randn(3, 5, requires_grad=True)
    target = torch.randn(3, 5, requires_grad=True)
    loss = MSELoss(loss_weight=2.0)(pred, target)
    np.testing.assert_allclose(loss.item(),
                               2 * ((a(pred) - a(target))**2).mean(),
                               rtol=1e-6)
    loss.backward()
    assert target.grad is None and pred.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='connector'):
        MSELoss()(pred, target[:, :4])


# ---------------------------------------------------------------- Eq. 18
def test_step_decay_paper_and_release_rounding():
    lam1 = [StepDecay(1.0, 30, 0.5)(e) for e in range(100)]
    assert lam1[0] == lam1[29] == 1.0 and lam1[30] == 0.5
    assert lam1[60] == 0.25 and lam1[99] == 0.125
    lam2 = [StepDecay(1.0, 10, 0.9)(e) for e in range(100)]
    np.testing.assert_allclose(lam2, [0.9**(e // 10) for e in range(100)])
    # 'ceil': epoch 0 at the initial weight, epochs 1..30 at 0.5, ...
    ceil = [StepDecay(1.0, 30, 0.5, rounding='ceil')(e) for e in range(100)]
    assert ceil[0] == 1.0 and ceil[1] == ceil[30] == 0.5
    assert ceil[31] == ceil[60] == 0.25 and ceil[61] == 0.125
    with pytest.raises(ValueError, match='rounding'):
        StepDecay(rounding='round')
    sched = TASK_UTILS.build(dict(type='StepDecay', step=10, factor=0.9,
                                  initial=2.0))
    assert sched(25) == pytest.approx(2.0 * 0.81)
    with pytest.raises(ValueError):
        sched(-1)


def test_scheduled_loss_weight():
    loss = RoutedKDLoss(loss_weight=dict(type='StepDecay', step=30,
                                         factor=0.5))
    student, teachers = torch.randn(3, 4), torch.randn(2, 3, 4)
    base = RoutedKDLoss()(student, teachers)
    assert loss.loss_weight == 1.0
    loss.set_epoch(61)
    assert loss.loss_weight == 0.25
    torch.testing.assert_close(loss(student, teachers), 0.25 * base)
    fixed = LoadBalanceLoss(loss_weight=0.3)
    fixed.set_epoch(100)
    assert fixed.loss_weight == 0.3
    assert fixed.loss_name == 'loss_lb' and loss.loss_name == \
        'loss_routed_kd'
