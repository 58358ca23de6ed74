"""Routing options beyond the paper's gate (issue 13): soft-weighted KD,
straight-through Gumbel selection, a supervised teacher-quality target and
the random control; and the routing diagnostics of RoutingStatsHook."""
import json
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from mstkd.engine.hooks import RoutingStatsHook
from mstkd.models import MSTDistill
from mstkd.models.losses import (TeacherQualityLoss, best_teacher,
                                 weighted_kd)
from mstkd.utils.errors import UserInputError
from tests.test_models.test_algorithms.test_mst_distill import (
    C, batch, has_grad, three_modality_cfg, zero)


def build(**kwargs):
    model = MSTDistill(**three_modality_cfg(**kwargs))
    model.build_masknets(batch()[0])
    model.set_stage('s3')
    return model


def _kl(p, q, t):
    lp, lq = F.log_softmax(p.double() / t, 1), F.log_softmax(q.double() / t, 1)
    return (lp.exp() * (lp - lq)).sum(1) * t * t


def test_weighted_kd_is_the_per_sample_weighted_sum():
    torch.manual_seed(0)
    student = torch.randn(4, C)
    teachers = torch.randn(3, 4, C)
    w = torch.rand(4, 3, requires_grad=True)
    loss = weighted_kd(student, teachers, w, temperature=2.0)
    per = torch.stack([_kl(teachers[j], student, 2.0) for j in range(3)], 1)
    assert float(loss) == pytest.approx(float((w.double() * per).sum(1)
                                              .mean()), rel=1e-6)
    loss.backward()  # d loss / d w_bj = KL_bj / B
    torch.testing.assert_close(w.grad.double(), per / 4, rtol=1e-5,
                               atol=1e-7)


def test_paper_gate_gets_no_distillation_gradient_soft_and_gumbel_do():
    inputs, samples = batch()
    for routing, expect in (('topk', False), ('soft', True),
                            ('gumbel', True)):
        model = build(routing=routing)
        zero(model)
        losses = model(inputs, samples, mode='loss')
        losses['loss_routed_kd'].backward()
        assert has_grad(model.gate) is expect, routing
        # the gate reads the detached student logits: its output carries no
        # path to the student
        zero(model)
        records = model.compute_records({'gate_probs', 'specialized_logits',
                                         'a:'}, inputs, samples)
        records['gate_probs'].sum().backward()
        assert not has_grad(model.members['a']), routing
    # Gumbel: one teacher per sample forward (one-hot weights)
    model = build(routing='gumbel')
    records = model.compute_records({'gate_weights', 'specialized_logits',
                                     'a:'}, inputs, samples)
    w = records['gate_weights']
    assert torch.equal(w.detach().sum(1), torch.ones(6))
    assert set(w.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(records['gate_topk'][:, 0], w.detach().argmax(1))
    with pytest.raises(UserInputError, match='k = 1'):
        build(routing='gumbel', k=2)


def test_teacher_quality_target():
    torch.manual_seed(1)
    teachers = torch.randn(5, 6, C)
    labels = torch.randint(0, C, (6, ))
    ce = torch.stack([F.cross_entropy(teachers[j], labels, reduction='none')
                      for j in range(5)])
    assert torch.equal(best_teacher(teachers, labels), ce.argmin(0))
    student = torch.randn(6, C)
    kl = torch.stack([_kl(teachers[j], student, 1.0) for j in range(5)])
    assert torch.equal(best_teacher(teachers, labels, student, 'kl'),
                       kl.argmin(0))
    probs = torch.softmax(torch.randn(6, 5), 1)
    loss = TeacherQualityLoss(loss_weight=0.5)(probs, teachers, labels)
    want = -probs[torch.arange(6), ce.argmin(0)].log().mean()
    assert float(loss) == pytest.approx(0.5 * float(want), rel=1e-6)

    # in MST: the gate (only) learns from it
    inputs, samples = batch()
    model = build(gate_target='ce', gate_target_weight=0.3)
    assert 'loss_gate_target' in model._stage_losses['s3']
    zero(model)
    model(inputs, samples, mode='loss')['loss_gate_target'].backward()
    assert has_grad(model.gate) and not has_grad(model.members['a'])
    with pytest.raises(UserInputError, match='does not have'):
        build(routing='random', gate_target='ce')


def test_random_routing_is_uniform_without_a_gate():
    model = build(routing='random', k=2)
    assert model.gate is None and 'loss_lb' not in model._stage_losses['s3']
    torch.manual_seed(0)
    inputs, samples = batch(n=50)
    counts = torch.zeros(5)
    for _ in range(40):
        records = model.compute_records({'gate_topk', 'specialized_logits',
                                         'a:'}, inputs, samples)
        topk = records['gate_topk']
        assert topk.shape == (50, 2) and (topk[:, 0] != topk[:, 1]).all()
        counts += torch.bincount(topk.flatten(), minlength=5)
    # 4000 draws over 5 teachers: 800 each, binomial std ~25
    assert (counts - 800).abs().max() < 5 * 25, counts
    loss = model(inputs, samples, mode='loss')
    assert set(loss) == {'loss_ce', 'loss_routed_kd'}


def test_routing_stats_hook_diagnostics(tmp_path):
    names = ['t0', 't1', 't2']
    model = SimpleNamespace(
        specialized=[SimpleNamespace(name=n) for n in names],
        num_classes=2, last_routing=None,
        loss_weights=lambda: {'loss_routed_kd': 1.0, 'loss_lb': 0.9})
    logged, scalars = [], {}
    runner = SimpleNamespace(
        model=model, epoch=0, log_dir=str(tmp_path),
        logger=SimpleNamespace(info=logged.append),
        visualizer=SimpleNamespace(
            add_scalars=lambda s, step: scalars.update(s)))
    hook = RoutingStatsHook()
    probs = torch.tensor([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0],
                          [0.2, 0.2, 0.6]])
    topk = probs.argmax(1, keepdim=True)
    labels = torch.tensor([0, 1, 1])
    best = torch.tensor([0, 2, 2])
    for _ in range(2):  # two identical steps
        model.last_routing = dict(probs=probs, topk=topk, labels=labels,
                                  best=best)
        hook.after_train_iter(runner, 0)
    hook.after_train_epoch(runner)
    ent = -(probs * probs.clamp_min(1e-12).log()).sum(1).mean()
    assert scalars['routing/entropy'] == pytest.approx(float(ent))
    assert scalars['routing/best_ce_share'] == pytest.approx(2 / 3)
    assert scalars['routing/prob/t0'] == pytest.approx(1.7 / 3)
    assert scalars['routing/topk/t2'] == pytest.approx(1 / 3)
    assert 'entropy' in logged[0] and 'lowest-CE' in logged[0]
    rows = [json.loads(line) for line in open(
        osp.join(tmp_path, 'routing_class_matrix.json'))]
    assert rows[0]['teachers'] == names
    # class 0 -> t0 twice; class 1 -> t0 twice and t2 twice
    assert rows[0]['counts'] == [[2, 0, 0], [2, 0, 2]]
    assert math.log(3) > scalars['routing/entropy'] > 0
