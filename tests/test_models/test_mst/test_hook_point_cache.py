"""S2 hook-point cache: the split teacher equals the masked teacher, S2
with the cache trains the same MaskNets, the stores keep the values."""
import logging
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mstkd.models import MSTDistill
from mstkd.models.mst import MaskNet
from mstkd.models.mst.hook_point_cache import (NotSplittable, SplitTeacher,
                                               StoreGroup)
from mstkd.registry import MODELS
from mstkd.utils import register_all_modules
from mstkd.utils.errors import UserInputError
from tests.helpers import masked
from tests.test_models.test_algorithms.test_mst_distill import (
    batch, three_modality_cfg)

register_all_modules(init_default_scope=False)


class Skip(nn.Module):
    """A residual block across the hooked layer: the cut holds ``x``."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 6)
        self.fc2 = nn.Linear(6, 3)

    def forward(self, inputs):
        x = torch.tanh(inputs)
        return self.fc2(F.relu(self.fc1(x)) + x) * self.fc2.weight.sum()


class Branchy(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 3)

    def forward(self, inputs):
        x = self.fc1(inputs)
        return x if x.sum() > 0 else -x


class Twice(nn.Module):
    """The hooked module is called twice."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 6)

    def forward(self, inputs):
        return self.fc1(self.fc1(inputs))


def _masknet(dim, seed=0):
    torch.manual_seed(seed)
    return MaskNet(dim, num_heads=2, projector='light')


def test_split_late_fusion_matches_masked_teacher():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='LateFusionNet',
        encoders=dict(image=dict(type='LeNet5'),
                      audio=dict(type='CNN2d', channels=(4, 8))),
        hidden_channels=(12, ), num_classes=5)).eval()
    inputs = dict(image=torch.randn(3, 1, 28, 28),
                  audio=torch.randn(3, 1, 16, 16))
    paths = ['fusion.concat', 'fusion.fc1', 'encoders.audio.conv2']
    split = SplitTeacher(model, paths, list(inputs))
    cut = split.check(model, inputs)
    # the hooked output is the only value read after each of these cuts
    assert split.cuts['fusion.fc1'][0].name == 'fusion_fc1'
    assert [n.name for n in split.cuts['fusion.fc1']] == ['fusion_fc1']
    # at the audio conv2, the image branch's feature crosses the cut too
    assert len(split.cuts['encoders.audio.conv2']) == 2
    for path, dim in [('fusion.concat', 84 + 8), ('fusion.fc1', 12),
                      ('encoders.audio.conv2', 8)]:
        net = _masknet(dim)
        with masked(model, {path: net}):
            expected = model(inputs)
        got = split.suffix_forward(path, cut, net)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
        # gradients reach the MaskNet through the suffix alone
        got.sum().backward()
        assert all(p.grad is not None for p in net.parameters())


def test_split_keeps_skip_values_and_recomputes_constants():
    torch.manual_seed(0)
    model = Skip().eval()
    x = torch.randn(4, 6)
    split = SplitTeacher(model, ['fc1'])
    cut = split.check(model, x)
    names = [n.name for n in split.cuts['fc1']]
    assert names[0] == 'fc1' and len(names) == 2  # fc1 output + tanh(x)
    assert torch.equal(cut[names[1]], torch.tanh(x))
    net = _masknet(6)
    with masked(model, {'fc1': net}):
        expected = model(x)
    torch.testing.assert_close(split.suffix_forward('fc1', cut, net),
                               expected)


@pytest.mark.parametrize('cls, match', [(Branchy, 'cannot trace'),
                                        (Twice, 'called 2 times')])
def test_not_splittable_names_the_reason(cls, match):
    with pytest.raises(NotSplittable, match=match):
        SplitTeacher(cls(), ['fc1'])


def _s2_run(s2_cache, epochs=3, n=6, **kwargs):
    torch.manual_seed(0)
    model = MSTDistill(**three_modality_cfg(s2_cache=s2_cache, **kwargs))
    model.build_masknets(batch()[0])
    model.set_stage('s2')
    model.train()
    opt = torch.optim.Adam(model.masknets.parameters(), lr=1e-2)
    data = [batch(n, seed=s) for s in (0, 1)]
    # the second batch has other samples: ids 200..
    data[1][1]['sample_idx'] = torch.arange(n) + 200
    losses = []
    for _ in range(epochs):
        for inputs, samples in data:
            out = model.loss(inputs, samples)
            loss = sum(out.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append({k: float(v) for k, v in out.items()})
    return model, losses


def test_s2_with_cache_trains_the_same_masknets():
    plain, plain_losses = _s2_run(False)
    cached, cached_losses = _s2_run(True)
    for (name, a), (_, b) in zip(plain.masknets.state_dict().items(),
                                 cached.masknets.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    for a, b in zip(plain_losses, cached_losses):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-7)
    store = cached.s2_cache_store
    # 12 samples of every teacher's cut values and of the student's logits
    assert all(len(rows) == 12 for rows in store.rows.values())
    assert 'a.logits' in store.rows and 'mm.fusion_concat' in store.rows
    assert plain.s2_cache_store is None
    # leaving S2 drops the cache
    cached.set_stage('s3')
    assert cached.s2_cache_store is None


def test_s2_cached_epochs_skip_the_teacher_prefix():
    model, _ = _s2_run(True, epochs=1)
    calls = []
    encoder = model.members['mm'].encoders['b']
    handle = encoder.fc1.register_forward_hook(lambda *a: calls.append(1))
    student = model.members['a'].fc1.register_forward_hook(
        lambda *a: calls.append(2))
    inputs, samples = batch(6, seed=0)
    model.loss(inputs, samples)  # every sample cached: no prefix, student
    assert calls == []
    samples = dict(samples, sample_idx=torch.arange(6) + 900)  # new ids
    model.loss(inputs, samples)
    assert sorted(set(calls)) == [1, 2]
    handle.remove()
    student.remove()


@MODELS.register_module(force=True)
class UntraceableMLP(MODELS.get('MLP')):
    """An MLP whose forward branches on a value (always the same way)."""

    def forward(self, inputs):
        x = self.pick(inputs)
        return super().forward(x if x.abs().sum() >= 0 else -x)


def test_unsplittable_teacher_runs_uncached():
    members = three_modality_cfg()['members']
    members['c'] = dict(members['c'], type='UntraceableMLP')
    plain, plain_losses = _s2_run(False, members=members)
    cached, cached_losses = _s2_run(True, members=members)
    assert cached._split_teachers['c'] is None  # uncached, the others not
    assert cached._split_teachers['mm'] is not None
    assert 'c.' not in ''.join(cached.s2_cache_store.rows)
    for a, b in zip(plain.masknets.parameters(),
                    cached.masknets.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert plain_losses[-1] == pytest.approx(cached_losses[-1], rel=1e-5)


def test_row_store_goes_to_files_past_the_budget(tmp_path):
    group = StoreGroup(torch.float32, ram_budget=0,
                       directory=str(tmp_path / 'cache'))
    values = torch.randn(5, 3, 2)
    group.put('x', [10, 11, 12, 13, 14], values)
    files = os.listdir(tmp_path / 'cache')
    assert files == ['x.0.bin'] and group.disk_used > 0
    assert group.ram_used == 0
    got = group.get('x', [14, 10], 'cpu')
    assert torch.equal(got, values[[4, 0]])
    group.put('x', [10, 99], torch.zeros(2, 3, 2))  # 10 is kept as it was
    assert torch.equal(group.get('x', [10], 'cpu'), values[[0]])
    assert torch.equal(group.get('x', [99], 'cpu'), torch.zeros(1, 3, 2))
    group.clear()
    assert os.listdir(tmp_path / 'cache') == []


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16,
                                   torch.bfloat16, torch.int64])
def test_file_rows_round_trip_any_dtype_without_mapping(tmp_path, dtype):
    """Disk rows are read and written with file I/O: any dtype (bfloat16
    has no numpy dtype, so a memory-mapped .npy could not hold it), and
    the files are never mapped into the process (their pages would count
    in its resident memory)."""
    group = StoreGroup(dtype, ram_budget=0, directory=str(tmp_path))
    values = (torch.randn(7, 3, 5) * 100).to(dtype)
    group.put('x', list(range(7)), values)
    assert group.ram_used == 0 and len(group.files) == 1
    got = group.get('x', [6, 0, 3, 3], 'cpu')
    assert got.dtype == dtype and torch.equal(got, values[[6, 0, 3, 3]])
    with open('/proc/self/maps') as f:
        assert str(tmp_path) not in f.read()
    group.clear()
    assert os.listdir(tmp_path) == []


def test_ram_budget_splits_rows_between_ram_and_files(tmp_path):
    # a segment is 1024 rows of 4 floats = 16 KiB: one fits the budget
    group = StoreGroup(torch.float32, ram_budget=20 * 1024,
                       directory=str(tmp_path))
    values = torch.randn(2500, 4)
    group.put('x', list(range(2500)), values)
    assert group.ram_used == 16 * 1024 and group.disk_used == 32 * 1024
    assert sorted(os.listdir(tmp_path)) == ['x.1.bin', 'x.2.bin']
    ids = [2499, 0, 1024, 1023, 2048]
    assert torch.equal(group.get('x', ids, 'cpu'), values[ids])


def test_row_store_float16_halves_rows_and_restores_dtype():
    group = StoreGroup(torch.float16, ram_budget=2**30)
    values = torch.randn(4, 8, dtype=torch.float32)
    group.put('x', [0, 1, 2, 3], values)
    assert group.row_bytes() == {'x': 16}
    got = group.get('x', [0, 1, 2, 3], 'cpu')
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, values, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize('value, match', [
    (dict(dtype='int8'), 'dtype'), (dict(budget=1), 'unknown keys'),
    (dict(ram_budget_gb=-1), 'ram_budget_gb')])
def test_s2_cache_option_errors(value, match):
    with pytest.raises(UserInputError, match=match):
        MSTDistill(**three_modality_cfg(s2_cache=value))


def test_s2_cache_hook_logs_size_and_clears(tmp_path):
    from mstkd.engine.hooks import S2CacheHook

    model, _ = _s2_run(dict(ram_budget_gb=0), epochs=1)
    assert model.s2_cache_store.disk_used == 0  # no directory: RAM

    class Runner:
        work_dir = str(tmp_path)
        rank = 0
        logger = logging.getLogger('test_s2_cache_hook')

    runner = Runner()
    runner.model = model
    hook = S2CacheHook()
    hook.before_train(runner)
    assert model.s2_cache_dir == str(tmp_path / 's2_cache' / 'rank0')
    model.clear_s2_cache()
    inputs, samples = batch(6, seed=0)
    model.loss(inputs, samples)  # refills, past the budget: on disk
    store = model.s2_cache_store
    assert store.disk_used > 0 and os.listdir(model.s2_cache_dir)
    messages = []
    runner.logger.info = messages.append
    hook.after_train_epoch(runner)
    assert len(messages) == 1 and '6 samples' in messages[0]
    assert 'files' in messages[0]
    hook.after_train_stage(runner, 's2')
    assert model.s2_cache_store is None
    assert os.listdir(model.s2_cache_dir) == []


@pytest.mark.parametrize('config', [
    'mst_av_mnist_image', 'mst_av_mnist_audio', 'mst_avdigits_image',
    'mst_avdigits_audio', 'mst_crisismmd_image', 'mst_crisismmd_text',
    'mst_ravdess_audio', 'mst_ravdess_video', 'mst_vggsound50k_audio',
    'mst_vggsound50k_visual'])
def test_every_classification_config_splits_its_teachers(config):
    """S2 runs cached on every classification dataset (NYU: s2_cache off)."""
    from mmengine.config import Config
    cfg = Config.fromfile(f'configs/mst/{config}.py').model
    assert cfg.s2_cache
    for teacher, paths in cfg.teachers.items():
        net = MODELS.build(cfg.members[teacher]).eval()
        keys = list(net.modalities) if hasattr(net, 'encoders') else None
        split = SplitTeacher(net, paths, keys)
        assert [n.name for n in split.cut_nodes] == [
            p.replace('.', '_') for p in paths]
