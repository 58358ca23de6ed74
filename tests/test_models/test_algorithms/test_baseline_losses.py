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


def test_rkd_gram_angles_equal_the_direct_ones():
    """The Gram form (B^3 memory at any width) gives the direct cosines,
    the loss of the written-out computation and the same gradients; a
    repeated sample counts as one point in both; 'auto' switches on the
    size."""
    from mstkd.models.losses import rkd_loss
    torch.manual_seed(0)
    x = torch.randn(6, 40) * 5 + 3  # off-centre, as real features
    x[4] = x[1]  # a duplicate: a zero difference
    direct = rkd_loss.angle_potential(x, 'direct')
    gram = rkd_loss.angle_potential(x, 'gram')
    torch.testing.assert_close(gram, direct, rtol=1e-4, atol=1e-5)
    s, t = torch.randn(5, 7, requires_grad=True), torch.randn(5, 3, 2, 2)
    grads = []
    for mode in ('direct', 'gram'):
        loss = RKDLoss(angle_mode=mode)(s, t)
        assert float(loss) == pytest.approx(_rkd_direct(s.detach(), t, 1.0,
                                                        2.0), rel=1e-5)
        grads.append(torch.autograd.grad(loss, s)[0])
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)
    # 'auto': direct while B x B x D is small, the Gram form beyond
    wide = torch.randn(4, rkd_loss.DIRECT_ANGLE_LIMIT // 16 + 1)
    calls = []
    real = rkd_loss.F.normalize
    rkd_loss.F.normalize = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        rkd_loss.angle_potential(wide[:, :100])
        assert calls == [1]
        rkd_loss.angle_potential(wide)
        assert calls == [1]  # no B x B x D difference tensor
    finally:
        rkd_loss.F.normalize = real
    with pytest.raises(ValueError, match="angle_mode 'fast'"):
        RKDLoss(angle_mode='fast')


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
    with pytest.raises(ValueError, match=r'num_negatives \(0\)'):
        CRDLoss(num_samples=100, num_negatives=0)
    # K above the bank size: drawn with replacement (RAVDESS, K = 4096)
    many = CRDLoss(num_samples=10, feat_dim=4, num_negatives=64)
    many.train()
    value = many(F.normalize(torch.randn(3, 4), dim=1),
                 F.normalize(torch.randn(3, 4), dim=1), [1, 2, 3])
    assert torch.isfinite(value)


def test_l2_linear_connector_is_crds_embed_head():
    torch.manual_seed(0)
    head = LinearConnector(12, 5, l2_normalize=True)
    x = torch.randn(3, 3, 2, 2)
    out = head(x)
    direct = head.fc(x.flatten(1))
    torch.testing.assert_close(out, direct / direct.norm(dim=1,
                                                         keepdim=True))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))


# ------------------------------------------------------------------- C2KD
def _kendall_direct(x, y):
    """Kendall's tau-b of two sequences, pair by pair."""
    n = len(x)
    conc = disc = tie_x = tie_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            tie_x += dx == 0
            tie_y += dy == 0
            conc += dx * dy > 0
            disc += dx * dy < 0
    pairs = n * (n - 1) / 2
    denom = math.sqrt((pairs - tie_x) * (pairs - tie_y))
    return (conc - disc) / denom if denom else 0.0


def test_kendall_tau_is_tau_b_of_every_row():
    from scipy.stats import kendalltau

    from mstkd.models.losses import kendall_tau
    torch.manual_seed(0)
    x = torch.randn(5, 7)
    y = torch.randn(5, 7)
    y[0] = x[0] * 2 + 1  # same ranking: 1
    y[1] = -x[1]  # reversed: -1
    x[2, :3] = 0.5  # ties in x
    y[3, 2:5] = -1.0  # ties in y
    tau = kendall_tau(x, y)
    for i in range(5):
        want = _kendall_direct(x[i].tolist(), y[i].tolist())
        assert float(tau[i]) == pytest.approx(want, abs=1e-6), i
        assert want == pytest.approx(kendalltau(x[i], y[i])[0], abs=1e-12)
    assert float(tau[0]) == pytest.approx(1.0)
    assert float(tau[1]) == pytest.approx(-1.0)
    # a constant row has no untied pair: 0, not NaN
    assert float(kendall_tau(torch.ones(1, 4), torch.randn(1, 4))) == 0.0


def _ntkl_direct(s, t, y, temp, target):
    """KL(q_t || q_s) of one sample over the non-target classes."""
    s, t = s.double().tolist(), t.double().tolist()

    def dist(z):
        if target == 'exclude':  # softmax over the other classes
            e = [0.0 if k == y else math.exp(z[k] / temp)
                 for k in range(len(z))]
        else:  # the release: target logit set to 0, softmax over all
            e = [math.exp((0.0 if k == y else z[k]) / temp)
                 for k in range(len(z))]
        return [v / sum(e) for v in e]

    qs, qt = dist(s), dist(t)
    return sum(qt[k] * math.log(qt[k] / qs[k]) for k in range(len(s))
               if qt[k] > 0)


@pytest.mark.parametrize('target', ['exclude', 'zero'])
def test_c2kd_ofsd_is_the_selected_bidirectional_non_target_kl(target):
    from mstkd.models.losses import C2KDLoss
    torch.manual_seed(0)
    s = (torch.randn(8, 5) * 2).requires_grad_()
    t = (torch.randn(8, 5) * 2).requires_grad_()
    with torch.no_grad():
        t[:3] = s[:3] * 1.5  # agreeing rankings: selected for sure
        t[3] = -s[3]  # opposite ranking: never selected
    y = torch.randint(0, 5, (8, ))
    loss = C2KDLoss(threshold=0.0, temperature=2.0, target=target,
                    loss_weight=0.5)
    got = loss(s, t, y)
    want = 0.0
    selected = []
    for i in range(8):
        tau = _kendall_direct(t[i].tolist(), s[i].tolist())
        if tau > 0:
            selected.append(i)
            want += (_ntkl_direct(s[i], t[i], int(y[i]), 2.0, target) +
                     _ntkl_direct(t[i], s[i], int(y[i]), 2.0, target))
    assert {0, 1, 2} <= set(selected) and 3 not in selected
    assert float(got) == pytest.approx(0.5 * want / 8, rel=1e-5)
    # each proxy learns from the other, detached: d loss / d s is the
    # gradient of the s-direction term alone
    got.backward()
    s2 = s.detach().clone().requires_grad_()
    C2KDLoss(temperature=2.0, target=target, loss_weight=0.5)(
        s2, t.detach(), y).backward()
    torch.testing.assert_close(s.grad, s2.grad)
    assert t.grad.abs().sum() > 0
    assert s.grad[3].abs().sum() == 0  # an unselected sample teaches nothing
    if target == 'exclude':  # the target class carries no gradient
        assert float(s.grad.gather(1, y[:, None]).abs().sum()) == 0


def test_c2kd_ofsd_selects_nothing_above_the_threshold():
    from mstkd.models.losses import C2KDLoss
    s, t = torch.randn(4, 6), torch.randn(4, 6)
    assert float(C2KDLoss(threshold=1.0)(s, t, torch.zeros(4))) == 0.0
    with pytest.raises(ValueError, match='equal shape'):
        C2KDLoss()(torch.randn(4, 6), torch.randn(4, 5), torch.zeros(4))
    with pytest.raises(ValueError, match="'exclude' or 'zero'"):
        C2KDLoss(target='drop')


def test_proxy_head_is_the_release_proxynet():
    from mstkd.models.connectors import ProxyHead
    torch.manual_seed(0)
    head = ProxyHead(6, 3).eval()
    head.bn.running_mean.uniform_()
    head.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(4, 6)
    h = head.fc1(x)
    h = (h - head.bn.running_mean) / torch.sqrt(head.bn.running_var +
                                                head.bn.eps)
    h = h * head.bn.weight + head.bn.bias
    torch.testing.assert_close(head(x), head.fc2(F.leaky_relu(h, 0.1)))
    # a feature map is average-pooled first (ProxyNet)
    fmap = torch.randn(4, 6, 3, 2)
    torch.testing.assert_close(head(fmap), head(fmap.mean((2, 3))))
    # a training batch of one sample uses the running statistics
    head.train()
    torch.testing.assert_close(head(x[:1]), head.eval()(x[:1]))


# ------------------------------------------------------------------ MGDFR
def _mgdfr(feature='audio:conv3', **kwargs):
    from mstkd.models.algorithms import MGDFRDistiller
    return MGDFRDistiller(
        members=dict(
            audio=dict(type='CNN2d', modality='audio', channels=(4, 6, 8),
                       pool_size=2, num_classes=5),
            image=dict(type='LeNet5', modality='image', num_classes=5)),
        target='image', teacher='audio', feature=feature,
        losses=dict(loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
        loss_forward_mappings=dict(
            loss_kd=dict(pred='image:', target='general_logits')),
        saliency_stage='train', **kwargs)


def _batches(sizes):
    return [dict(inputs=dict(image=torch.randn(b, 1, 28, 28),
                             audio=torch.randn(b, 1, 16, 16)))
            for b in sizes]


def _on(module, on_input, change):
    if on_input:
        return module.register_forward_pre_hook(
            lambda m, args: (change(args[0]), ))
    return module.register_forward_hook(lambda m, args, out: change(out))


@pytest.mark.parametrize('feature,layer,on_input,width', [
    ('audio:conv3', 'conv3', False, 8), ('audio:fc@input', 'fc', True, 32)])
def test_mgdfr_salience_is_the_permuted_teachers_distance_to_the_student(
        feature, layer, on_input, width):
    """For every channel c and draw r: permute c across the batch, MSE of
    the teacher's logits to the student's; sample-weighted mean over the
    batches and draws, min-max normalised; the top 25% kept."""
    torch.manual_seed(0)
    model = _mgdfr(feature, num_permutations=3, reinit_student=False,
                   chunk_samples=12)  # chunks of 2 channels at batch 6
    batches = _batches([6, 6, 5])
    student_before = {k: v.clone() for k, v in
                      model.student.state_dict().items()}
    torch.manual_seed(1)
    salience = model.compute_saliency(batches)
    # direct: one forward per (batch, draw, channel), same draw order
    torch.manual_seed(1)
    teacher, student = model.members['audio'].eval(), model.student.eval()
    module = dict(teacher.named_modules())[layer]
    total = [0.0] * width
    with torch.no_grad():
        for batch in batches:
            x = batch['inputs']
            s = student(x)
            for _ in range(3):
                for c in range(width):
                    perm = torch.randperm(len(s))

                    def change(f, c=c, perm=perm):
                        g = f.clone()
                        g[:, c] = f[perm, c]
                        return g

                    handle = _on(module, on_input, change)
                    t = teacher(x)
                    handle.remove()
                    total[c] += float(((t.double() - s.double())**2).mean()
                                      ) * len(s)
    mean = [v / (17 * 3) for v in total]
    lo, hi = min(mean), max(mean)
    want = torch.tensor([(v - lo) / (hi - lo) for v in mean])
    torch.testing.assert_close(salience.double(), want.double(), rtol=0,
                               atol=1e-5)
    keep = math.ceil(width / 4)
    top = sorted(range(width), key=lambda c: -float(want[c]))[:keep]
    assert sorted(torch.nonzero(model.general_mask).flatten().tolist()) == \
        sorted(top)
    assert bool(model.saliency_done)
    for k, v in model.student.state_dict().items():  # reinit_student=False
        assert torch.equal(v, student_before[k]), k


def test_mgdfr_general_logits_freeze_the_other_channels_to_their_mean():
    torch.manual_seed(0)
    model = _mgdfr(num_permutations=1)
    before = [p.clone() for p in model.student.parameters()]
    model.compute_saliency(_batches([8]))
    # the student is re-initialised after the ranking
    assert all(not torch.equal(a, b) for a, b in
               zip(before, model.student.parameters()) if a.dim() > 1)
    x = _batches([7])[0]['inputs']
    records = {}
    model.eval()
    model.add_products(records, {'general_logits'}, x, None)
    removed = ~model.general_mask
    assert int(removed.sum()) == 6  # 8 channels, 2 kept

    def freeze(f):
        g = f.clone()
        for c in range(f.shape[1]):
            if removed[c]:
                for i in range(f.shape[0]):
                    g[i, c] = f[:, c].mean(0)
        return g

    teacher = model.members['audio']
    handle = teacher.conv3.register_forward_hook(
        lambda m, args, out: freeze(out))
    with torch.no_grad():
        want = teacher(x)
    handle.remove()
    torch.testing.assert_close(records['general_logits'], want)
    assert not records['general_logits'].requires_grad
    # before the ranking the product is refused
    with pytest.raises(RuntimeError, match='MGDFRSaliencyHook'):
        _mgdfr().add_products({}, {'general_logits'}, x, None)
    with pytest.raises(Exception, match='a layer of the teacher'):
        _mgdfr(feature='image:fc1')
