"""Micro-batching (``micro_batch=...``): gradient accumulation over chunks of
a batch inside ONE optimizer step gives the whole batch's gradients, update
and log variables (per-sample-mean losses), one forward per chunk, one step,
the wrapper's clipping and ``accumulative_counts`` per batch; config errors;
the warning for batch-level stages."""
import copy

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.optim import OptimWrapper

import mstkd.models.algorithms.base_distiller as base_distiller
from mstkd.models import ConfigurableDistiller, DeviceAgnosticDDP
from mstkd.models.algorithms.base_distiller import (parse_micro_batch,
                                                    split_batch)
from mstkd.utils.errors import UserInputError
from tests.test_models.test_algorithms import test_mst_distill as mst
from tests.test_models.test_algorithms.test_configurable_distiller import (
    kd_cfg, seg_kd_cfg)

C = 5
TIGHT = dict(rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- helpers
def kd_model(micro_batch=None, seed=0):
    torch.manual_seed(seed)
    model = ConfigurableDistiller(**kd_cfg(micro_batch=micro_batch))
    model.train()
    return model


def kd_batch(n=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=dict(a=torch.randn(n, 6, generator=g),
                            b=torch.randn(n, 7, generator=g)),
                data_samples=dict(
                    gt_label=torch.randint(0, C, (n, ), generator=g),
                    sample_idx=torch.arange(n)))


def mst_model(micro_batch=None):
    torch.manual_seed(0)
    model = mst.build()
    model.set_stage('s2')
    # set after construction: MSTDistill's constructor may not take it yet
    model.micro_batch = micro_batch
    model.train()
    return model


def mst_batch(n=10, seed=3):
    inputs, samples = mst.batch(n, seed)
    return dict(inputs=inputs, data_samples=samples)


class RecordingWrapper(OptimWrapper):
    """Records the gradients each ``step`` sees, and the calls."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps, self.zeros, self.grads = 0, 0, []

    def step(self, **kwargs):
        self.steps += 1
        super().step(**kwargs)  # clips first
        # after clipping: what the optimizer applied
        self.grads.append([None if p.grad is None else p.grad.clone()
                           for g in self.optimizer.param_groups
                           for p in g['params']])

    def zero_grad(self, **kwargs):
        self.zeros += 1
        super().zero_grad(**kwargs)


def wrapper(model, **kwargs):
    params = [p for p in model.parameters() if p.requires_grad]
    return RecordingWrapper(torch.optim.SGD(params, lr=0.5), **kwargs)


def trained(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()
            if v.requires_grad}


def count_forwards(module):
    calls = []
    handle = module.register_forward_hook(
        lambda m, i, o: calls.append(i[0]['a'].shape[0]
                                     if isinstance(i[0], dict) else
                                     i[0].shape[0]))
    return calls, handle


def step(model, data, optim_wrapper):
    return model.train_step(copy.deepcopy(data), optim_wrapper=optim_wrapper)


def assert_same_step(ref, ref_wrap, ref_vars, got, got_wrap, got_vars,
                     **tol):
    assert ref_wrap.steps == got_wrap.steps == 1
    assert ref_wrap.zeros == got_wrap.zeros == 1
    for a, b in zip(ref_wrap.grads[0], got_wrap.grads[0]):
        torch.testing.assert_close(b, a, **tol)
    want, have = trained(ref), trained(got)
    assert list(want) == list(have)
    for key in want:
        torch.testing.assert_close(have[key], want[key], **tol)
    assert list(ref_vars) == list(got_vars)
    for key in ref_vars:
        torch.testing.assert_close(got_vars[key].detach(),
                                   ref_vars[key].detach(), **tol)


# ---------------------------------------------------------------- config
def test_parse_micro_batch_forms_and_errors():
    stages = ['s1', 's2', 's3']
    assert parse_micro_batch(None, stages) == dict(s1=None, s2=None,
                                                   s3=None)
    assert parse_micro_batch(8, stages) == dict(s1=8, s2=8, s3=8)
    assert parse_micro_batch(dict(s2=64), stages) == dict(s1=None, s2=64,
                                                          s3=None)
    assert parse_micro_batch(dict(s1=None, s3=2), stages) == dict(
        s1=None, s2=None, s3=2)
    with pytest.raises(UserInputError) as info:
        parse_micro_batch(dict(s4=2, s2=3), stages)
    assert "['s4']" in str(info.value) and "['s1', 's2', 's3']" in str(
        info.value)
    for bad in (0, -1, 2.5, True, '4', dict(s2=0), dict(s2=1.5)):
        with pytest.raises(UserInputError, match='integer > 0'):
            parse_micro_batch(bad, stages)


def test_constructor_and_attribute_validate():
    model = ConfigurableDistiller(**kd_cfg(micro_batch=4))
    assert model.micro_batch == dict(train=4)
    assert model.micro_batch_size() == 4
    with pytest.raises(UserInputError, match=r"stages: \['train'\]"):
        ConfigurableDistiller(**kd_cfg(micro_batch=dict(s2=4)))
    with pytest.raises(UserInputError, match='integer > 0'):
        ConfigurableDistiller(**kd_cfg(micro_batch=0))
    model = mst_model()
    assert model.micro_batch_size() is None
    model.micro_batch = dict(s2=4)
    assert model.micro_batch == dict(s1=None, s2=4, s3=None)
    assert model.micro_batch_size('s2') == 4
    with pytest.raises(UserInputError, match=r"\['s1', 's2', 's3'\]"):
        model.micro_batch = dict(S2=4)


def test_split_batch_tensors_dicts_and_data_elements():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for i in range(5):
        s = SegDataSample(metainfo=dict(img_path=f'{i}.png'))
        s.gt_sem_seg = PixelData(data=torch.full((1, 2, 2), i))
        samples.append(s)
    data = dict(inputs=torch.arange(5.).view(5, 1), data_samples=samples)
    chunks = split_batch(data, 2)
    assert [n for _, n in chunks] == [2, 2, 1]
    assert [c['inputs'].flatten().tolist() for c, _ in chunks] == [
        [0., 1.], [2., 3.], [4.]]
    assert [[s.img_path for s in c['data_samples']] for c, _ in chunks] == [
        ['0.png', '1.png'], ['2.png', '3.png'], ['4.png']]
    chunks = split_batch(kd_batch(10), 4)
    assert [n for _, n in chunks] == [4, 4, 2]
    assert chunks[2][0]['data_samples']['sample_idx'].tolist() == [8, 9]
    assert chunks[1][0]['inputs']['b'].shape == (4, 7)
    bad = kd_batch(10)
    bad['data_samples']['gt_label'] = bad['data_samples']['gt_label'][:9]
    with pytest.raises(UserInputError, match='leading size 9'):
        split_batch(bad, 4)


# ---------------------------------------------------------------- exactness
def _kd_steps(size):
    """One step of the KD model on a batch of 10, whole and with
    ``micro_batch=size``; the student's forward batch sizes of the
    latter."""
    data = kd_batch(10)
    ref = kd_model()
    ref_wrap = wrapper(ref)
    ref_vars = step(ref, data, ref_wrap)
    got = kd_model(micro_batch=size)
    got_wrap = wrapper(got)
    calls, handle = count_forwards(got.members['student'])
    got_vars = step(got, data, got_wrap)
    handle.remove()
    return ref, ref_wrap, ref_vars, got, got_wrap, got_vars, calls


@pytest.mark.parametrize('size', [4, 3, 1])
def test_kd_step_equals_the_whole_batch(size):
    ref, ref_wrap, ref_vars, got, got_wrap, got_vars, calls = \
        _kd_steps(size)
    chunks = -(-10 // size)
    assert len(calls) == chunks and sum(calls) == 10
    assert got_wrap.inner_count == ref_wrap.inner_count == 1
    assert_same_step(ref, ref_wrap, ref_vars, got, got_wrap, got_vars,
                     **TIGHT)
    assert set(got_vars) == {'loss', 'loss_ce', 'loss_kd'}


def test_gradient_clipping_applies_once_to_the_accumulated_gradient():
    data = kd_batch(10)
    ref = kd_model()
    ref_wrap = wrapper(ref, clip_grad=dict(max_norm=0.05))
    ref_vars = step(ref, data, ref_wrap)
    got = kd_model(micro_batch=4)
    got_wrap = wrapper(got, clip_grad=dict(max_norm=0.05))
    got_vars = step(got, data, got_wrap)
    norm = torch.cat([g.flatten() for g in got_wrap.grads[0]]).norm()
    assert norm == pytest.approx(0.05, rel=1e-4)  # it did clip
    assert_same_step(ref, ref_wrap, ref_vars, got, got_wrap, got_vars,
                     **TIGHT)


def test_accumulative_counts_still_count_batches():
    batches = [kd_batch(10, seed=s) for s in (1, 2)]
    ref, got = kd_model(), kd_model(micro_batch=4)
    ref_wrap = wrapper(ref, accumulative_counts=2)
    got_wrap = wrapper(got, accumulative_counts=2)
    for data in batches:
        step(ref, data, ref_wrap)
        step(got, data, got_wrap)
    assert ref_wrap.inner_count == got_wrap.inner_count == 2
    assert ref_wrap.steps == got_wrap.steps == 1
    want, have = trained(ref), trained(got)
    for key in want:
        torch.testing.assert_close(have[key], want[key], **TIGHT)


@pytest.mark.parametrize('size', [10, 16])
def test_micro_batch_of_the_whole_batch_is_the_plain_step(size):
    ref, ref_wrap, ref_vars, got, got_wrap, got_vars, calls = \
        _kd_steps(size)
    assert calls == [10]
    assert_same_step(ref, ref_wrap, ref_vars, got, got_wrap, got_vars,
                     rtol=0, atol=0)


def test_mst_s2_masknets_step_equals_the_whole_batch():
    data = mst_batch(10)
    ref = mst_model()
    ref_wrap = wrapper(ref)
    ref_vars = step(ref, data, ref_wrap)
    got = mst_model(micro_batch=dict(s2=4))
    got_wrap = wrapper(got)
    calls, handle = count_forwards(got.members['a'])  # the student
    got_vars = step(got, data, got_wrap)
    handle.remove()
    assert calls == [4, 4, 2]
    trainable = trained(got)
    assert trainable and all(k.startswith('masknets.') for k in trainable)
    assert len([k for k in ref_vars if k.startswith('loss_mask_')]) == 5
    assert_same_step(ref, ref_wrap, ref_vars, got, got_wrap, got_vars,
                     **TIGHT)
    # and it changed the MaskNets at all
    start = mst_model()
    assert any(not torch.equal(v, trained(start)[k])
               for k, v in trainable.items())


def test_mst_constructor_takes_micro_batch_when_available():
    import inspect

    from mstkd.models import MSTDistill
    if 'micro_batch' not in inspect.signature(MSTDistill).parameters:
        pytest.skip('MSTDistill does not take micro_batch yet')
    model = MSTDistill(**mst.three_modality_cfg(micro_batch=dict(s2=64)))
    assert model.micro_batch == dict(s1=None, s2=64, s3=None)
    with pytest.raises(UserInputError, match=r"\['s1', 's2', 's3'\]"):
        MSTDistill(**mst.three_modality_cfg(micro_batch=dict(s4=2)))


def test_segmentation_chunks_weighted_by_samples():
    """Dense batches split by sample; with every pixel valid and equal image
    sizes the sample weighting equals the pixel weighting (exact)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from tests.test_models.test_algorithms.test_mst_seg import ToySegmentor
    assert ToySegmentor  # registered

    def build(micro_batch=None):
        torch.manual_seed(0)
        model = ConfigurableDistiller(**seg_kd_cfg(micro_batch=micro_batch))
        return model.train()

    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(5):
        sample = SegDataSample(metainfo=dict(img_shape=(6, 7),
                                             ori_shape=(6, 7)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, C, (1, 6, 7), generator=g))
        samples.append(sample)
    data = dict(inputs=torch.randn(5, 4, 6, 7, generator=g),
                data_samples=samples)
    ref = build()
    ref_wrap = wrapper(ref)
    ref_vars = step(ref, data, ref_wrap)
    got = build(micro_batch=2)
    assert any('valid pixels' in r for r in got.micro_batch_inexact('train'))
    got_wrap = wrapper(got)
    calls, handle = count_forwards(got.members['rgb'])
    got_vars = step(got, data, got_wrap)
    handle.remove()
    assert calls == [2, 2, 1]
    assert_same_step(ref, ref_wrap, ref_vars, got, got_wrap, got_vars,
                     **TIGHT)


# ---------------------------------------------------------------- warnings
@pytest.fixture
def warnings_logged(monkeypatch):
    logged = []

    def record(msg, logger=None, level=None):
        logged.append((msg, level))

    monkeypatch.setattr(base_distiller, 'print_log', record)
    return logged


def test_per_sample_stages_do_not_warn(warnings_logged):
    model = kd_model(micro_batch=4)
    step(model, kd_batch(10), wrapper(model))
    assert model.micro_batch_inexact('train') == []
    assert warnings_logged == []


def test_batch_level_stage_warns_once(warnings_logged):
    import logging
    model = mst.build()
    model.set_stage('s3')
    model.micro_batch = dict(s3=4)
    model.train()
    reasons = model.micro_batch_inexact('s3')
    assert len(reasons) == 1 and 'loss_lb (LoadBalanceLoss)' in reasons[0]
    assert model.micro_batch_inexact('s2') == []
    optim_wrapper = wrapper(model)
    for _ in range(2):
        step(model, mst_batch(10), optim_wrapper)
    assert len(warnings_logged) == 1
    msg, level = warnings_logged[0]
    assert level == logging.WARNING
    assert 'micro_batch=4 in stage "s3"' in msg and 'LoadBalanceLoss' in msg


def test_training_batchnorm_is_named():
    model = kd_model(micro_batch=4)
    model.members['student'].norm = nn.BatchNorm1d(3)
    model.members['teacher'].norm = nn.BatchNorm1d(3)  # frozen: eval mode
    model.train()
    reasons = model.micro_batch_inexact('train')
    assert len(reasons) == 1 and 'student.norm' in reasons[0]
    assert 'teacher' not in reasons[0]
    model.eval()
    assert model.micro_batch_inexact('train') == []


def test_batch_level_loss_classes():
    from mstkd.models import (CRDLoss, CrossEntropyLoss, KLDivergenceLoss,
                              LoadBalanceLoss, MSELoss, MultiLevelLogitLoss,
                              MutualKLLoss, RKDLoss, RoutedKDLoss)
    for cls in (LoadBalanceLoss, RKDLoss, CRDLoss, MultiLevelLogitLoss):
        assert cls.batch_level is True
    for cls in (CrossEntropyLoss, KLDivergenceLoss, MSELoss, MutualKLLoss,
                RoutedKDLoss):
        assert cls.batch_level is False


# ---------------------------------------------------------------- DDP
def test_ddp_wrapper_micro_batches_under_no_sync(tmp_path, monkeypatch):
    if dist.is_initialized():
        pytest.skip('a process group is already initialised')
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    try:
        data = kd_batch(10)
        ref = kd_model()
        ref_wrap = wrapper(ref)
        ref_vars = step(ref, data, ref_wrap)
        got = kd_model(micro_batch=4)
        ddp = DeviceAgnosticDDP(got)
        got_wrap = wrapper(got)
        syncs = []
        original = type(ddp).no_sync

        def no_sync(self):
            syncs.append(1)
            return original(self)

        monkeypatch.setattr(type(ddp), 'no_sync', no_sync)
        calls, handle = count_forwards(got.members['student'])
        got_vars = ddp.train_step(copy.deepcopy(data),
                                  optim_wrapper=got_wrap)
        handle.remove()
        assert calls == [4, 4, 2]
        assert len(syncs) == 2  # every chunk but the last
        assert_same_step(ref, ref_wrap, ref_vars, got, got_wrap, got_vars,
                         **TIGHT)
        # without micro-batching: mmengine's DDP step, one forward
        plain = kd_model()
        plain_ddp = DeviceAgnosticDDP(plain)
        plain_wrap = wrapper(plain)
        calls, handle = count_forwards(plain.members['student'])
        plain_ddp.train_step(copy.deepcopy(data), optim_wrapper=plain_wrap)
        handle.remove()
        assert calls == [10]
        want, have = trained(ref), trained(plain)
        for key in want:
            torch.testing.assert_close(have[key], want[key], rtol=0, atol=0)
    finally:
        dist.destroy_process_group()


def test_batch_level_products_are_named():
    model = kd_model(micro_batch=4)
    model.batch_level_products = ('teacher:', )  # read by loss_kd
    reasons = model.micro_batch_inexact('train')
    assert reasons == ['batch-level products teacher:']
