import itertools

import numpy as np
import pytest
import torch

from mstkd.models.distill import (CollaborativeLoss, DKDLoss,
                                  KLDivergenceLoss, LambdaSchedule,
                                  LoadBalanceLoss, SpecializedTeacherLoss,
                                  collaborative_loss, dkd_loss,
                                  kl_divergence, load_balance_loss,
                                  mean_teacher_loss, mst_stage3_loss,
                                  specialized_teacher_loss, step_decay)
from mstkd.registry import MODELS


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
    np.testing.assert_allclose(
        kl_divergence(p, q, 4.0, valid_mask=valid, normalize='all').item(),
        per[m].sum() / (b * h * w), rtol=1e-5)
    with pytest.raises(ValueError):
        kl_divergence(p, q, valid_mask=valid[0])
    with pytest.raises(ValueError):
        kl_divergence(p, q[:, :4])


# ---------------------------------------------------------------- Eq. 1-4
def _members(seed=0, n=3, b=6, c=5):
    torch.manual_seed(seed)
    logits = {
        name: torch.randn(b, c, requires_grad=True)
        for name in ['mm', 'image', 'audio'][:n]
    }
    return logits, torch.randint(0, c, (b, ))


def test_collaborative_loss_values():
    logits, labels = _members()
    t = 3.0
    out = collaborative_loss(logits, labels, t)
    assert set(out) == {'loss_ce_mm', 'loss_ce_image', 'loss_ce_audio',
                        'loss_align'}
    z = {k: a(v) for k, v in logits.items()}
    y = labels.numpy()
    for name in z:
        ce = np.mean([np_ce(z[name][b], y[b]) for b in range(6)])
        np.testing.assert_allclose(out[f'loss_ce_{name}'].item(), ce,
                                   rtol=1e-5)
    align = 0.0
    names = list(z)
    for b in range(6):
        for i in range(3):
            for j in range(i + 1, 3):
                zi, zj = z[names[i]][b], z[names[j]][b]
                align += np_kl(zi, zj, t) + np_kl(zj, zi, t)
    np.testing.assert_allclose(out['loss_align'].item(), align / 6,
                               rtol=1e-5)
    dml = collaborative_loss(logits, labels, t, detach=True)
    for key in out:
        np.testing.assert_allclose(dml[key].item(), out[key].item(),
                                   rtol=1e-5)


def _explicit_kl(p_logits, q_logits, t):
    log_p = torch.log_softmax(p_logits / t, 1)
    log_q = torch.log_softmax(q_logits / t, 1)
    return (log_p.exp() * (log_p - log_q)).sum(1).mean() * t * t


def test_collaborative_gradients_joint_vs_dml():
    t = 2.0
    logits, labels = _members(1)
    names = list(logits)
    total = sum(collaborative_loss(logits, labels, t).values())
    grads = torch.autograd.grad(total, list(logits.values()))
    # paper: every KL term differentiates through both of its arguments
    z = list(logits.values())
    ref = sum(torch.nn.functional.cross_entropy(v, labels) for v in z)
    for i, j in itertools.permutations(range(3), 2):
        ref = ref + _explicit_kl(z[i], z[j], t)
    ref_grads = torch.autograd.grad(ref, z)
    for g, r, name in zip(grads, ref_grads, names):
        assert g.abs().sum() > 0, name
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-5)

    # DML: member i only gets grads from CE_i + sum_j KL(Pj.detach() || Pi)
    dml_total = sum(
        collaborative_loss(logits, labels, t, detach=True).values())
    dml_grads = torch.autograd.grad(dml_total, z)
    for i in range(3):
        own = torch.nn.functional.cross_entropy(z[i], labels)
        for j in range(3):
            if j != i:
                own = own + _explicit_kl(z[j].detach(), z[i], t)
        (expected, ) = torch.autograd.grad(own, z[i])
        torch.testing.assert_close(dml_grads[i], expected, atol=1e-6,
                                   rtol=1e-5)
        assert not torch.allclose(dml_grads[i], grads[i], atol=1e-4)


def test_collaborative_single_member_and_module():
    logits, labels = _members(n=1)
    out = collaborative_loss(logits, labels)
    assert out['loss_align'].item() == 0
    logits, labels = _members(2)
    mod = MODELS.build(dict(type='CollaborativeLoss', temperature=2.0))
    assert isinstance(mod, CollaborativeLoss)
    ref = collaborative_loss(logits, labels, 2.0)
    for k, v in mod(logits, labels).items():
        torch.testing.assert_close(v, ref[k])


def test_collaborative_dense_ignore_index():
    torch.manual_seed(0)
    logits = {k: torch.randn(2, 4, 3, 3) for k in ('rgb', 'depth')}
    labels = torch.randint(0, 4, (2, 3, 3))
    labels[0, 0] = 255
    valid = labels != 255
    out = collaborative_loss(logits, labels, 1.0, ignore_index=255,
                             valid_mask=valid)
    expected = kl_divergence(logits['rgb'], logits['depth'],
                             valid_mask=valid) + kl_divergence(
                                 logits['depth'], logits['rgb'],
                                 valid_mask=valid)
    torch.testing.assert_close(out['loss_align'], expected)
    assert torch.isfinite(out['loss_ce_rgb'])


# ---------------------------------------------------------------- Eq. 8-10
def test_specialized_teacher_loss():
    torch.manual_seed(0)
    s = torch.randn(4, 6, requires_grad=True)
    t = torch.randn(4, 6, requires_grad=True)
    loss = specialized_teacher_loss(s, t, 2.0)
    ref = np.mean([np_kl(a(s)[b], a(t)[b], 2.0) for b in range(4)])
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-5)
    loss.backward()
    assert s.grad is None
    assert t.grad.abs().sum() > 0
    torch.testing.assert_close(SpecializedTeacherLoss(2.0)(s, t), loss)


# ---------------------------------------------------------------- Eq. 14
def test_dkd_loss_matches_loop_and_grads():
    torch.manual_seed(0)
    n, b, c, k, temp = 4, 5, 6, 2, 3.0
    student = torch.randn(b, c, requires_grad=True)
    teachers = torch.randn(n, b, c, requires_grad=True)
    idx = torch.stack([torch.randperm(n)[:k] for _ in range(b)])
    loss = dkd_loss(student, teachers, idx, temp)
    ref = np.mean([
        sum(np_kl(a(teachers)[j, i], a(student)[i], temp)
            for j in idx[i].tolist()) for i in range(b)
    ])
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-5)
    loss.backward()
    assert teachers.grad is None
    assert student.grad.abs().sum() > 0
    # list input and module form
    torch.testing.assert_close(
        dkd_loss(student, list(teachers), idx, temp), loss)
    torch.testing.assert_close(DKDLoss(temp)(student, teachers, idx), loss)


def test_mean_teacher_loss():
    torch.manual_seed(0)
    student, teachers = torch.randn(3, 4), torch.randn(5, 3, 4)
    ref = np.mean([
        np.mean([np_kl(a(teachers)[j, i], a(student)[i]) for j in range(5)])
        for i in range(3)
    ])
    np.testing.assert_allclose(
        mean_teacher_loss(student, teachers).item(), ref, rtol=1e-5)
    np.testing.assert_allclose(
        DKDLoss()(student, teachers).item(), ref, rtol=1e-5)
    with pytest.raises(ValueError):
        mean_teacher_loss(student, teachers[:, :2])


def test_dense_dkd():
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
        dkd_loss(student, teachers, idx, 4.0, valid_mask=valid).item(),
        per[m].sum() / m.sum(), rtol=1e-5)
    np.testing.assert_allclose(
        dkd_loss(student, teachers, idx, 4.0, valid_mask=valid,
                 normalize='all').item(), per[m].sum() / per.size,
        rtol=1e-5)


# ---------------------------------------------------------------- Eq. 16-17
def test_load_balance_kl_and_cv():
    torch.manual_seed(0)
    probs = torch.softmax(torch.randn(8, 4), 1).requires_grad_()
    p = a(probs)
    c_bar = p.mean(0)
    kl = sum(0.25 * (np.log(0.25) - np.log(c_bar[j])) for j in range(4))
    np.testing.assert_allclose(load_balance_loss(probs).item(), kl,
                               rtol=1e-5)
    np.testing.assert_allclose(
        load_balance_loss(probs, reference_compat=True).item(), kl / 4,
        rtol=1e-5)
    imp = p.sum(0)
    cv = np.var(imp, ddof=1) / np.mean(imp)**2
    np.testing.assert_allclose(load_balance_loss(probs, 'cv').item(), cv,
                               rtol=1e-4)
    uniform = torch.full((8, 4), 0.25)
    assert load_balance_loss(uniform).abs().item() < 1e-6
    assert load_balance_loss(uniform, 'cv').abs().item() < 1e-6
    load_balance_loss(probs).backward()
    assert probs.grad.abs().sum() > 0
    torch.testing.assert_close(LoadBalanceLoss('cv')(probs),
                               load_balance_loss(probs, 'cv'))
    with pytest.raises(ValueError):
        load_balance_loss(probs, 'entropy')


# ---------------------------------------------------------------- schedules
def test_step_decay_paper_and_reference():
    lam1 = [step_decay(1.0, e, 30, 0.5) for e in range(100)]
    assert lam1[0] == lam1[29] == 1.0 and lam1[30] == 0.5
    assert lam1[60] == 0.25 and lam1[99] == 0.125
    lam2 = [step_decay(1.0, e, 10, 0.9) for e in range(100)]
    np.testing.assert_allclose(lam2, [0.9**(e // 10) for e in range(100)])
    ref = [step_decay(1.0, e, 30, 0.5, reference_compat=True)
           for e in range(100)]
    # the release multiplies whenever epoch % 30 == 0, epoch 0 included
    value, loop = 1.0, []
    for e in range(100):
        if e % 30 == 0:
            value *= 0.5
        loop.append(value)
    assert ref == loop
    sched = MODELS.build(dict(type='LambdaSchedule', step=10, factor=0.9,
                              initial=2.0))
    assert isinstance(sched, LambdaSchedule)
    assert sched(25) == pytest.approx(2.0 * 0.81)
    with pytest.raises(ValueError):
        step_decay(1.0, -1, 10, 0.9)


# ---------------------------------------------------------------- Eq. 18
def test_mst_stage3_loss():
    torch.manual_seed(0)
    b, c, n = 4, 5, 3
    student = torch.randn(b, c, requires_grad=True)
    teachers = torch.randn(n, b, c)
    probs = torch.softmax(torch.randn(b, n), 1).requires_grad_()
    idx = probs.topk(1, 1).indices
    labels = torch.randint(0, c, (b, ))
    out = mst_stage3_loss(student, labels, teachers, probs, idx, 2.0,
                          lambda1=0.5, lambda2=0.9)
    assert set(out) == {'loss_ce', 'loss_dkd', 'loss_lb'}
    torch.testing.assert_close(
        out['loss_ce'], torch.nn.functional.cross_entropy(student, labels))
    torch.testing.assert_close(out['loss_dkd'],
                               0.5 * dkd_loss(student, teachers, idx, 2.0))
    torch.testing.assert_close(out['loss_lb'], 0.9 * load_balance_loss(probs))
    out['loss_lb'].backward()
    assert student.grad is None and probs.grad.abs().sum() > 0


def test_kl_module():
    torch.manual_seed(0)
    p, q = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    mod = MODELS.build(dict(type='KLDivergenceLoss', temperature=4.0,
                            normalize='all'))
    assert isinstance(mod, KLDivergenceLoss)
    valid = torch.rand(2, 4, 4) > 0.5
    torch.testing.assert_close(
        mod(p, q, valid),
        kl_divergence(p, q, 4.0, valid_mask=valid, normalize='all'))
