"""MSTDistill: stages, gradient flow, equations, ablation switches."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

from mstkd.engine.hooks import MaskNetSelectionHook
from mstkd.models import LayerPathError, MSTDistill, resolve_layer
from mstkd.utils.errors import UserInputError
from tests.helpers import masked

C = 5  # classes


def mlp(modality, dim, hidden=(12, 8), with_head=True):
    return dict(type='MLP', in_channels=dim, hidden_channels=hidden,
                num_classes=C, modality=modality, with_head=with_head)


def three_modality_cfg(**kwargs):
    """M = 3 modalities (a, b, c) + the multimodal member: N = 2 + 1 + 2."""
    members = dict(
        mm=dict(type='LateFusionNet',
                encoders=dict(a=mlp('a', 6, with_head=False),
                              b=mlp('b', 7, with_head=False),
                              c=mlp('c', 4, with_head=False)),
                hidden_channels=(10, ), num_classes=C),
        a=mlp('a', 6), b=mlp('b', 7), c=mlp('c', 4))
    cfg = dict(members=members, target='a',
               teachers=dict(mm=['fusion.concat', 'fusion.fc1'], b=['fc2'],
                             c=['fc1', 'fc2']),
               temperature=2.0, masknet=dict(num_heads=2))
    cfg.update(kwargs)
    return cfg


def batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = dict(a=torch.randn(n, 6, generator=g),
                  b=torch.randn(n, 7, generator=g),
                  c=torch.randn(n, 4, generator=g))
    labels = torch.randint(0, C, (n, ), generator=g)
    return inputs, dict(gt_label=labels, sample_idx=torch.arange(n) + 100)


def build(**kwargs):
    model = MSTDistill(**three_modality_cfg(**kwargs))
    if model.use_masknets:
        model.build_masknets(batch()[0])
    return model


def grads(module):
    return [p.grad for p in module.parameters()]


def has_grad(module):
    return any(g is not None and g.abs().sum() > 0 for g in grads(module))


def zero(model):
    for p in model.parameters():
        p.grad = None


def test_three_modalities_build_and_shapes():
    model = build()
    assert model.num_teachers == 5  # Eq. 5: N = 2 (mm) + 1 (b) + 2 (c)
    names = [s.name for s in model.specialized]
    assert names == ['mm:fusion.concat', 'mm:fusion.fc1', 'b:fc2', 'c:fc1',
                     'c:fc2']
    dims = [model.masknets[s.key].in_channels for s in model.specialized]
    assert dims == [8 + 8 + 8, 10, 8, 12, 8]  # inferred by a dry forward
    inputs, samples = batch()
    teachers = model.specialized_teacher_logits(inputs)
    assert teachers.shape == (5, 6, C)
    out = model(inputs, samples, mode='predict')
    assert len(out) == 6 and out[0]['logits'].shape == (C, )
    torch.testing.assert_close(model(inputs), model.members['a'](inputs))


def test_batched_specialized_teachers_equal_single_masknet_forwards():
    """The one-forward batched teachers equal the paper's definition: the
    base teacher with MaskNet j alone (Eq. 6-9)."""
    model = build()
    model.eval()
    inputs, _ = batch()
    with torch.no_grad():
        batched = model.specialized_teacher_logits(inputs)
        for j, spec in enumerate(model.specialized):
            teacher = model.members[spec.teacher]
            with masked(teacher, {spec.path: model.masknets[spec.key]}):
                single = teacher(inputs)
            torch.testing.assert_close(batched[j], single, atol=1e-5,
                                       rtol=1e-5)


def test_reference_compat_stacks_masks_in_s3_only():
    model = build(reference_compat=dict(stacked_masks=True))
    model.eval()
    inputs, _ = batch()
    c1 = model.masknets['c__fc1']
    c2 = model.masknets['c__fc2']
    teacher = model.members['c']
    with torch.no_grad():
        model.set_stage('s2')
        s2 = model.specialized_teacher_logits(inputs)
        model.set_stage('s3')
        s3 = model.specialized_teacher_logits(inputs)
        with masked(teacher, [('fc1', c1), ('fc2', c2)]):
            stacked = teacher(inputs)
        with masked(teacher, {'fc2': c2}):
            alone = teacher(inputs)
    torch.testing.assert_close(s3[4], stacked, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(s2[4], alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(stacked, alone)


def test_s1_gradients_reach_every_member():
    model = build()
    model.set_stage('s1')
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_ce_mm', 'loss_ce_a', 'loss_ce_b',
                           'loss_ce_c', 'loss_align'}
    sum(losses.values()).backward()
    for member in model.members.values():
        assert has_grad(member)
    assert not has_grad(model.masknets) and not has_grad(model.gate)
    # Eq. 2 without detach: the alignment term alone moves every member.
    zero(model)
    model(inputs, samples, mode='loss')['loss_align'].backward()
    for member in model.members.values():
        assert has_grad(member)


def test_s1_variants():
    inputs, samples = batch()
    model = build(collaborative='independent')
    model.set_stage('s1')
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_ce_mm', 'loss_ce_a', 'loss_ce_b',
                           'loss_ce_c'}
    joint = build()
    dml = build(collaborative='dml')
    dml.load_state_dict(joint.state_dict())
    for m in (joint, dml):
        m.set_stage('s1')
    lj = joint(inputs, samples, mode='loss')
    ld = dml(inputs, samples, mode='loss')
    # same value (Table 7 compares the optimisation, not the objective)
    torch.testing.assert_close(sum(lj.values()), sum(ld.values()))
    sum(lj.values()).backward()
    sum(ld.values()).backward()
    diff = [(a - b).abs().max() for a, b in
            zip(grads(joint.members), grads(dml.members))]
    assert max(diff) > 1e-6


def test_s2_trains_each_masknet_alone():
    model = build()
    model.set_stage('s2')
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    assert len(losses) == 5
    sum(losses.values()).backward()
    assert not has_grad(model.members) and not has_grad(model.gate)
    assert all(p.requires_grad is False for p in model.members.parameters())
    for net in model.masknets.values():
        assert has_grad(net)
    # Eq. 10 for teacher j depends on MaskNet j only.
    for j, spec in enumerate(model.specialized):
        zero(model)
        losses = model(inputs, samples, mode='loss')
        losses[f'loss_mask_{spec.key}'].backward()
        for other in model.specialized:
            assert has_grad(model.masknets[other.key]) == (other is spec)


def test_s2_loss_equals_eq8():
    model = build()
    model.set_stage('s2')
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    tau = model.temperature
    with torch.no_grad():
        student = model.members['a'](inputs)
        teachers = model.specialized_teacher_logits(inputs)
    for j, spec in enumerate(model.specialized):
        p = F.softmax(student / tau, 1)  # Q_student
        q = F.softmax(teachers[j] / tau, 1)  # Q_teacher j
        expected = (p * (p.log() - q.log())).sum(1).mean() * tau**2
        torch.testing.assert_close(losses[f'loss_mask_{spec.key}'].detach(),
                                   expected, atol=1e-5, rtol=1e-5)


def test_s3_loss_equals_eq18_and_gradients():
    model = build(k=2)
    model.set_stage('s3', stage_epoch=35)
    model.train()
    assert not model.members['mm'].training
    assert not any(m.training for m in model.masknets.values())
    assert model.members['a'].training and model.gate.training
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_ce', 'loss_routed_kd', 'loss_lb'}

    # Direct computation of Eq. 11-18.
    tau, n = model.temperature, model.num_teachers
    lambda1, lambda2 = 0.5, 0.9**3  # epoch 35: 1 halving, 3 decays
    weights = model.loss_weights()
    assert (weights['loss_routed_kd'], weights['loss_lb']) == pytest.approx(
        (lambda1, lambda2))
    with torch.no_grad():
        z = model.members['a'](inputs)
        teachers = model.specialized_teacher_logits(inputs)
        probs = F.softmax(model.gate(z), 1)
        top = probs.topk(2, dim=1).indices
        p_s = F.softmax(z / tau, 1)
        routed = 0.
        for b in range(z.shape[0]):
            for j in top[b].tolist():
                q = F.softmax(teachers[j, b] / tau, 0)
                routed += (q * (q.log() - p_s[b].log())).sum() * tau**2
        routed /= z.shape[0]
        cbar = probs.mean(0)
        lb = sum((1 / n) * (math.log(1 / n) - math.log(c)) for c in cbar)
    torch.testing.assert_close(losses['loss_ce'].detach(),
                               F.cross_entropy(z, samples['gt_label']))
    torch.testing.assert_close(losses['loss_routed_kd'].detach(),
                               lambda1 * routed, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(losses['loss_lb'].detach(),
                               torch.tensor(lambda2 * lb), atol=1e-5,
                               rtol=1e-5)

    sum(losses.values()).backward()
    assert has_grad(model.members['a']) and has_grad(model.gate)
    for name in ('mm', 'b', 'c'):
        assert not has_grad(model.members[name])
    assert not has_grad(model.masknets)
    # Paper: the load-balance term trains the GateNet, not the student.
    zero(model)
    model(inputs, samples, mode='loss')['loss_lb'].backward()
    assert has_grad(model.gate) and not has_grad(model.members['a'])


def test_reference_compat_gate_and_lb():
    model = build(reference_compat=True)
    # the release's GateNet: Linear -> Linear, no activation between
    assert isinstance(model.gate.mlp[1], torch.nn.Identity)
    model.set_stage('s3')
    inputs, samples = batch()
    # release: the LB gradient reaches the student through its logits
    model(inputs, samples, mode='loss')['loss_lb'].backward()
    assert has_grad(model.members['a'])
    paper = build()
    paper.load_state_dict(model.state_dict(), strict=False)
    paper.gate = model.gate
    paper.set_stage('s3')
    ref_lb = model(inputs, samples, mode='loss')['loss_lb']
    paper_lb = paper(inputs, samples, mode='loss')['loss_lb']
    # release: KLDivLoss(batchmean) on a 1-D vector divides by N
    torch.testing.assert_close(ref_lb, paper_lb / model.num_teachers,
                               atol=1e-6, rtol=1e-5)
    # release: S3 epoch 0 trains at (1, 1), epochs 1..10 at lambda2 = 0.9
    # and 1..30 at lambda1 = 0.5 (decayed at the end of epoch 0)
    weights = model.loss_weights()
    assert (weights['loss_routed_kd'], weights['loss_lb']) == (1.0, 1.0)
    model.set_epoch(1)
    weights = model.loss_weights()
    assert (weights['loss_routed_kd'], weights['loss_lb']) == pytest.approx(
        (0.5, 0.9))
    paper.set_epoch(1)
    assert paper.loss_weights()['loss_lb'] == 1.0


def test_routing_mean_and_skip_s2_ablations():
    inputs, samples = batch()
    mean = build(routing='mean')
    assert mean.gate is None
    mean.set_stage('s3')
    losses = mean(inputs, samples, mode='loss')
    assert set(losses) == {'loss_ce', 'loss_routed_kd'}
    with torch.no_grad():
        z = mean.members['a'](inputs)
        t = mean.specialized_teacher_logits(inputs)
        tau = mean.temperature
        p = F.softmax(z / tau, 1)
        kls = [(F.softmax(t[j] / tau, 1) *
                (F.log_softmax(t[j] / tau, 1) - p.log())).sum(1).mean()
               for j in range(5)]
    torch.testing.assert_close(losses['loss_routed_kd'].detach(),
                               sum(kls) / 5 * tau**2, atol=1e-5, rtol=1e-5)

    plain = build(use_masknets=False)
    assert len(plain.masknets) == 0 and plain.masknets_built
    assert [s.name for s in plain.specialized] == ['mm', 'b', 'c']
    plain.set_stage('s3')
    t = plain.specialized_teacher_logits(inputs)
    torch.testing.assert_close(t[1], plain.members['b'](inputs))


def test_k_and_lb_mode_switches():
    inputs, samples = batch()
    model = build(k=5, lb_mode='cv')
    model.set_stage('s3')
    losses = model(inputs, samples, mode='loss')
    assert torch.isfinite(losses['loss_lb'])
    probs, topk = (model.last_routing[k] for k in ('probs', 'topk'))
    assert probs.shape == (6, 5)
    assert sorted(topk[0].tolist()) == [0, 1, 2, 3, 4]  # k = N: all chosen
    with pytest.raises(UserInputError, match='k must be in 1..N=5'):
        build(k=6)


def test_wrong_layer_path_lists_valid_paths():
    with pytest.raises(LayerPathError) as info:
        MSTDistill(**three_modality_cfg(
            teachers=dict(mm=['fusion.fc9'], b=['fc2'])))
    msg = str(info.value)
    assert 'fusion.fc9' in msg
    for valid in ('fusion.concat', 'fusion.fc1', 'fusion.fc2',
                  'encoders.a.fc1'):
        assert valid in msg
    with pytest.raises(UserInputError, match="drop the '@input' suffix"):
        MSTDistill(**three_modality_cfg(
            teachers=dict(mm=['fusion.fc1@input'], b=['fc2'])))
    with pytest.raises(UserInputError, match='teachers must name members'):
        MSTDistill(**three_modality_cfg(teachers=dict(a=['fc1'])))
    with pytest.raises(UserInputError,
                       match=r"routing must be 'topk' or 'mean' \(the paper"):
        MSTDistill(**three_modality_cfg(routing='argmax'))
    with pytest.raises(UserInputError, match='reference_compat items'):
        MSTDistill(**three_modality_cfg(reference_compat=dict(typo=True)))


def test_teacher_cache_gives_identical_training():
    """cache_teacher_outputs only skips recomputation: same updates."""
    torch.manual_seed(0)
    ref = build(cache_teacher_outputs=False)
    cached = copy.deepcopy(ref)
    cached.cache_teacher_outputs = True
    batches = [batch(seed=s) for s in range(3)]
    for model in (ref, cached):
        model.set_stage('s3')
        opt = torch.optim.Adam(
            [p for m in model.stage_modules('s3') for p in m.parameters()],
            lr=1e-2)
        for _ in range(3):  # 3 epochs over the same samples
            for i, (inputs, samples) in enumerate(batches):
                samples = dict(samples,
                               sample_idx=samples['sample_idx'] + 100 * i)
                loss = sum(model(inputs, samples, mode='loss').values())
                opt.zero_grad()
                loss.backward()
                opt.step()
    assert len(cached._teacher_cache) == 18 and not ref._teacher_cache
    for a, b in zip(ref.parameters(), cached.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    # the cache is read: with the teachers changed after it was filled, the
    # cached model's KD loss stays, the uncached one's moves
    inputs, samples = batches[0]
    for model in (ref, cached):
        model.eval()
    with torch.no_grad():
        before = [m(inputs, samples, mode='loss')['loss_routed_kd']
                  for m in (ref, cached)]
        for model in (ref, cached):
            for name in model.teacher_layers:
                for p in model.members[name].parameters():
                    p.add_(0.5)
        after = [m(inputs, samples, mode='loss')['loss_routed_kd']
                 for m in (ref, cached)]
    torch.testing.assert_close(after[1], before[1], rtol=0, atol=0)
    assert not torch.allclose(after[0], before[0])


def test_best_masknets_kept_by_the_selection_hook():
    model = build()
    hook = MaskNetSelectionHook()
    key = model.specialized[0].key
    before = copy.deepcopy(model.masknets[key].state_dict())
    assert hook.update(model, [1.0] * 5) == [
        s.name for s in model.specialized]
    with torch.no_grad():
        for p in model.masknets[key].parameters():
            p.add_(1.0)
    assert hook.update(model, [2.0] * 5) == []  # no improvement
    assert hook.update(model, [2.0] + [0.5] * 4) == [
        s.name for s in model.specialized[1:]]
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    fresh_hook = MaskNetSelectionHook()
    fresh_hook.after_load_checkpoint(None, checkpoint)
    state = model.state_dict()
    fresh = build()
    fresh.load_state_dict(state)
    fresh_hook.load_best(fresh)
    for name, value in fresh.masknets[key].state_dict().items():
        torch.testing.assert_close(value, before[name])
    # A model without MaskNets (e.g. tools/test.py) loads the same state.
    student_only = MSTDistill(**three_modality_cfg())
    student_only.load_state_dict(state)
    assert len(student_only.masknets) == 0


def test_masknet_validation_kl_and_side_effect_free_predict():
    model = build()
    inputs, samples = batch()
    model.set_stage('s2')
    model.eval()
    kl_sum, count = model.masknet_val_kl(inputs, samples)
    assert float(count) == 6 and (kl_sum > 0).all()
    with torch.no_grad():
        student = model.members['a'](inputs)
        teachers = model.specialized_teacher_logits(inputs)
    for j in range(5):
        tau = model.temperature
        p = F.softmax(student / tau, 1)
        q = F.softmax(teachers[j] / tau, 1)
        expected = (p * (p.log() - q.log())).sum() * tau**2
        torch.testing.assert_close(kl_sum[j], expected, atol=1e-5,
                                   rtol=1e-5)
    state = copy.deepcopy(model.state_dict())
    out = model(inputs, samples, mode='predict')
    assert len(out) == 6
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])
    assert model.last_routing is None and not model._teacher_cache


def test_hooks_removed_after_forward():
    model = build()
    inputs, _ = batch()
    model.specialized_teacher_logits(inputs)
    for spec in model.specialized:
        layer = resolve_layer(model.members[spec.teacher], spec.path)
        assert len(layer._forward_hooks) == 0


@pytest.mark.parametrize('cache', [True, False])
def test_frozen_teacher_chunk_gives_the_same_s3_step(cache):
    """frozen_teacher_chunk runs S3's frozen teachers on chunks (here 4,
    4 and 2 of a batch of 10): the same specialized logits, losses and
    gradients as one whole-batch forward, the cache filled the same."""
    torch.manual_seed(0)
    ref = build(cache_teacher_outputs=cache)
    chunked = copy.deepcopy(ref)
    chunked.frozen_teacher_chunk = 4
    inputs, samples = batch(n=10, seed=3)
    calls = []
    for model in (ref, chunked):
        model.set_stage('s3')
        model.zero_grad()
        sizes = []
        handle = model.members['mm'].register_forward_pre_hook(
            lambda m, args: sizes.append(args[0]['a'].shape[0]))
        losses = model(inputs, samples, mode='loss')
        handle.remove()
        sum(losses.values()).backward()
        calls.append((sizes, losses))
    # mm has 2 specialized teachers: one forward of the 2x repeated batch
    assert calls[0][0] == [20] and calls[1][0] == [8, 8, 4]
    for k, v in calls[0][1].items():
        torch.testing.assert_close(calls[1][1][k], v, rtol=1e-6, atol=1e-7)
    for (name, a), b in zip(ref.named_parameters(), chunked.parameters()):
        if a.grad is not None:
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-7,
                                       msg=name)
    if cache:
        assert ref._teacher_cache.keys() == chunked._teacher_cache.keys()
        for i, v in ref._teacher_cache.items():
            torch.testing.assert_close(chunked._teacher_cache[i], v,
                                       rtol=1e-6, atol=1e-7)
    with pytest.raises(UserInputError, match='frozen_teacher_chunk'):
        MSTDistill(**three_modality_cfg(frozen_teacher_chunk=0))
