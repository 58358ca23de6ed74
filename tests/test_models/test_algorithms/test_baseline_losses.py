"""The losses of MLLD, RKD, OFA and CRD against direct computations written
out here (loops over samples, pairs, triplets and classes, in float64)."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from mstkd.models.connectors import LinearConnector, OFAProjector
from mstkd.models.losses import (CRDLoss, MultiLevelLogitLoss, OFALoss,
                                 RKDLoss)


def _softmax(z, t):
    return F.softmax(z.double() / t, 1)


# ------------------------------------------------------------------- MLLD
def _mlld_direct(s, t, temps, release=False):
    b, c = s.shape
    total = 0.0
    for temp in temps:
        ps, pt = _softmax(s, temp), _softmax(t, temp)
        inst = sum(float((pt[i] * (pt[i].log() - ps[i].log())).sum())
                   for i in range(b)) / b * temp * temp
        gram = sum((float(pt[i] @ pt[j]) - float(ps[i] @ ps[j])) ** 2
                   for i in range(b) for j in range(b))
        corr = sum((float(pt[:, k] @ pt[:, m]) -
                    float(ps[:, k] @ ps[:, m])) ** 2
                   for k in range(c) for m in range(c))
        if release:
            total += inst + gram / (b * b) + corr / (c * c)
        else:
            total += inst + gram / b + corr / c
    return total / (3 * len(temps)) if release else total


@pytest.mark.parametrize('reduction', ['paper', 'release'])
def test_mlld_is_the_three_levels_over_every_temperature(reduction):
    s, t = torch.randn(6, 4) * 3, torch.randn(6, 4) * 3
    temps = (2.0, 3.0, 5.0)
    loss = MultiLevelLogitLoss(temperatures=temps, reduction=reduction,
                               loss_weight=0.5)
    want = _mlld_direct(s, t, temps, reduction == 'release')
    assert float(loss(s, t)) == pytest.approx(0.5 * want, rel=1e-5)


def test_mlld_detaches_the_teacher_and_rejects_bad_shapes():
    s = torch.randn(5, 3, requires_grad=True)
    t = torch.randn(5, 3, requires_grad=True)
    MultiLevelLogitLoss()(s, t).backward()
    assert s.grad.abs().sum() > 0 and t.grad is None
    with pytest.raises(ValueError, match=r'\(B, C\) logits of equal shape'):
        MultiLevelLogitLoss()(torch.randn(5, 3), torch.randn(5, 4))


# -------------------------------------------------------------------- RKD
def _huber(x, y):
    d = abs(x - y)
    return 0.5 * d * d if d < 1 else d - 0.5


def _rkd_direct(s, t, wd, wa):
    s, t = s.double().flatten(1), t.double().flatten(1)
    b = len(s)
    pairs = [(i, j) for i in range(b) for j in range(b) if i != j]

    def dist(x):
        d = {(i, j): float((x[i] - x[j]).norm()) for i, j in pairs}
        mu = sum(d.values()) / len(d)
        return {k: v / mu for k, v in d.items()}

    ds, dt = dist(s), dist(t)
    # pairs off the diagonal, and the diagonal (0 vs 0) in the mean
    l_d = sum(_huber(ds[k], dt[k]) for k in pairs) / (b * b)

    def cos(x, i, j, k):
        a, c = x[i] - x[j], x[k] - x[j]
        na, nc = float(a.norm()), float(c.norm())
        if na == 0 or nc == 0:  # F.normalize maps a zero vector to zero
            return 0.0
        return float(a @ c) / (na * nc)

    l_a = sum(_huber(cos(s, i, j, k), cos(t, i, j, k))
              for i, j, k in itertools.product(range(b), repeat=3)) / b ** 3
    return wd * l_d + wa * l_a


def test_rkd_distance_and_angle_losses_over_pairs_and_triplets():
    s, t = torch.randn(5, 7), torch.randn(5, 3, 2, 2)  # widths may differ
    loss = RKDLoss(distance_weight=1.0, angle_weight=2.0)
    assert float(loss(s, t)) == pytest.approx(_rkd_direct(s, t, 1.0, 2.0),
                                              rel=1e-5)
    only_d = RKDLoss(distance_weight=1.0, angle_weight=0.0)
    assert float(only_d(s, t)) == pytest.approx(_rkd_direct(s, t, 1.0, 0.0),
                                                rel=1e-5)
    # relations are scale invariant: scaling the student changes nothing
    assert float(loss(3 * s, t)) == pytest.approx(float(loss(s, t)),
                                                  rel=1e-5)
    with pytest.raises(ValueError, match='same batch size >= 2'):
        loss(torch.randn(1, 3), torch.randn(1, 3))


# -------------------------------------------------------------------- OFA
def _ofa_direct(s, t, y, eps, temp):
    ps, pt = _softmax(s, temp), _softmax(t, temp)
    total = 0.0
    for i in range(len(s)):
        for c in range(s.shape[1]):
            hit = 1.0 if c == int(y[i]) else 0.0
            total -= ((float(pt[i, c]) + hit) ** eps - hit) * math.log(
                float(ps[i, c]))
    return total / len(s)


@pytest.mark.parametrize('reduction', ['sum', 'mean'])
def test_ofa_loss_is_the_target_enhanced_cross_entropy(reduction):
    t, y = torch.randn(6, 5), torch.randint(0, 5, (6, ))
    branches = [torch.randn(6, 5) for _ in range(3)]
    loss = OFALoss(eps=1.3, temperature=2.0, reduction=reduction)
    per = [_ofa_direct(b, t, y, 1.3, 2.0) for b in branches]
    want = sum(per) if reduction == 'sum' else sum(per) / 3
    assert float(loss(branches, t, y)) == pytest.approx(want, rel=1e-5)
    # eps = 1: plain KD, KL(p_t || p_s) plus the teacher's entropy
    z = branches[0]
    pt, log_ps = _softmax(t, 1.0), F.log_softmax(z.double(), 1)
    kl = float((pt * (pt.log() - log_ps)).sum(1).mean())
    ent = float(-(pt * pt.log()).sum(1).mean())
    assert float(OFALoss(eps=1.0)(z, t, y)) == pytest.approx(kl + ent,
                                                             rel=1e-5)


def test_ofa_projector_maps_maps_and_vectors_to_logits():
    conv = OFAProjector(6, 10, in_size=(14, 14))
    assert conv(torch.randn(4, 6, 14, 14)).shape == (4, 10)
    vec = OFAProjector(84, 10)
    assert vec(torch.randn(4, 84)).shape == (4, 10)
    assert vec.blocks[0].out_features == 20  # hidden = 2 x classes
    with pytest.raises(ValueError, match='the teacher'):
        OFALoss()(torch.randn(4, 3), torch.randn(4, 10),
                  torch.zeros(4, dtype=torch.long))


# -------------------------------------------------------------------- CRD
def test_crd_nce_against_the_formula_and_bank_update():
    torch.manual_seed(0)
    n, d, k, temp, m = 20, 4, 5, 0.5, 0.5
    loss = CRDLoss(num_samples=n, feat_dim=d, num_negatives=k,
                   temperature=temp, momentum=m)
    bank_s = loss.memory_student.clone().double()
    bank_t = loss.memory_teacher.clone().double()
    fs = F.normalize(torch.randn(3, d), dim=1)
    ft = F.normalize(torch.randn(3, d), dim=1)
    ids = torch.tensor([2, 7, 11])
    idx = torch.cat([ids[:, None], torch.randint(0, n, (3, k))], 1)
    value = loss(fs, ft, ids.tolist(), contrast_idx=idx)

    def nce(scores):
        noise = k / n
        total = 0.0
        for row in scores:
            total += math.log(row[0] / (row[0] + noise + 1e-7))
            total += sum(math.log(noise / (x + noise + 1e-7))
                         for x in row[1:])
        return -total / len(scores)

    # student anchor vs the teacher bank, teacher anchor vs the student bank
    raw_s = [[math.exp(float(bank_t[j] @ fs[i].double()) / temp)
              for j in idx[i]] for i in range(3)]
    raw_t = [[math.exp(float(bank_s[j] @ ft[i].double()) / temp)
              for j in idx[i]] for i in range(3)]
    z_s = sum(map(sum, raw_s)) / (3 * (k + 1)) * n  # Z from the first batch
    z_t = sum(map(sum, raw_t)) / (3 * (k + 1)) * n
    want = nce([[x / z_s for x in r] for r in raw_s]) + \
        nce([[x / z_t for x in r] for r in raw_t])
    assert float(value) == pytest.approx(want, rel=1e-5)
    assert loss.z.tolist() == pytest.approx([z_s, z_t], rel=1e-5)
    # momentum update of the positives' rows, renormalised; others unchanged
    for bank, old, new in ((loss.memory_student, bank_s, fs),
                           (loss.memory_teacher, bank_t, ft)):
        for row, i in zip(new, ids):
            upd = old[i] * m + row.double() * (1 - m)
            torch.testing.assert_close(bank[i].double(), upd / upd.norm(),
                                       rtol=1e-5, atol=1e-6)
        rest = [i for i in range(n) if i not in ids.tolist()]
        torch.testing.assert_close(bank[rest].double(), old[rest])
    assert loss.seen.nonzero().flatten().tolist() == [2, 7, 11]


def test_crd_negatives_come_from_seen_training_rows_never_the_positive():
    loss = CRDLoss(num_samples=100, feat_dim=4, num_negatives=50)
    loss.seen[[3, 9, 40, 41]] = True
    ids = torch.tensor([3, 40])
    idx = loss.draw_negatives(ids)
    assert idx.shape == (2, 51) and idx[:, 0].tolist() == [3, 40]
    for row in idx:
        negatives = set(row[1:].tolist())
        assert negatives <= {3, 9, 40, 41} - {int(row[0])}
    # under no_grad (evaluation) the banks and the pool stay as they are
    bank = loss.memory_student.clone()
    with torch.no_grad():
        loss(F.normalize(torch.randn(2, 4), dim=1),
             F.normalize(torch.randn(2, 4), dim=1), [3, 40])
    assert torch.equal(bank, loss.memory_student)
    with pytest.raises(ValueError, match='set num_samples'):
        loss(torch.randn(2, 4), torch.randn(2, 4), [3, 100])
    with pytest.raises(ValueError, match=r'\(B, 4\)'):
        loss(torch.randn(2, 5), torch.randn(2, 5), [3, 9])
    with pytest.raises(ValueError, match=r'num_negatives \(100\)'):
        CRDLoss(num_samples=100, num_negatives=100)


def test_l2_linear_connector_is_crds_embed_head():
    torch.manual_seed(0)
    head = LinearConnector(12, 5, l2_normalize=True)
    x = torch.randn(3, 3, 2, 2)
    out = head(x)
    direct = head.fc(x.flatten(1))
    torch.testing.assert_close(out, direct / direct.norm(dim=1,
                                                         keepdim=True))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))
