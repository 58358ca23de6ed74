"""Tests of :mod:`mstkd.utils.compat` (mmcv-lite ``mmcv.ops`` shim, safe
checkpoint loading). CPU only; interpreter-state checks run in subprocesses."""
import builtins
import glob
import importlib.machinery
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mstkd.utils import compat
from mstkd.utils.compat import import_hooks, mmcv_ops_shim

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MMCV_IS_LITE = mmcv_ops_shim._mmcv_has_ext() is False
needs_mmcv_lite = pytest.mark.skipif(
    not MMCV_IS_LITE, reason='full mmcv (with mmcv._ext) is installed')


def run_python(code: str, pythonpath: str = None, timeout: int = 120):
    """Run ``code`` in a fresh interpreter; return the CompletedProcess."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (pythonpath, REPO_ROOT, env.get('PYTHONPATH')) if p)
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def assert_ok(proc):
    assert proc.returncode == 0, (
        f'subprocess failed ({proc.returncode}):\n'
        f'{proc.stdout}\n{proc.stderr}')


# ---------------------------------------------------------------------------
# mmcv.ops shim
# ---------------------------------------------------------------------------


@needs_mmcv_lite
def test_mmseg_needs_the_shim_without_it():
    """The premise: with mmcv-lite and no shim, mmseg.models fails."""
    proc = run_python('import mmseg.models')
    assert proc.returncode != 0
    assert 'mmcv._ext' in proc.stderr


@needs_mmcv_lite
def test_shim_makes_mmseg_import_and_build():
    proc = run_python('''
        import sys
        from mstkd.utils import compat
        from mstkd.utils.compat import import_hooks, mmcv_ops_shim
        status = compat.apply_compat()
        assert status == dict(mmcv_ops_shim=True,
                              safe_checkpoint_loading=False), status
        # apply_compat is cheap: it imports neither torch nor mmcv nor mmseg
        for mod in ('torch', 'mmcv', 'mmseg', 'mmengine.runner'):
            assert mod not in sys.modules, mod
        assert compat.apply_compat() == status  # idempotent
        assert sys.meta_path.count(import_hooks._FINDER) == 1

        import mmseg.models, mmseg.datasets, mmseg.evaluation, mmseg.apis
        import mmcv
        ops = sys.modules['mmcv.ops']
        assert isinstance(ops, mmcv_ops_shim._MmcvOpsShimModule)
        assert mmcv.ops is ops
        assert ops.point_sample is compat.point_sample

        # importing mmseg.apis imported mmengine.runner.checkpoint, which ran
        # the deferred safe-checkpoint setup
        from mmengine.runner.checkpoint import CheckpointLoader
        assert CheckpointLoader._schemes[''].__dict__.get('_mstkd_guarded')
        assert compat.MMENGINE_CHECKPOINT_GLOBALS
        import inspect, mmengine.runner.checkpoint as ckpt_mod
        assert 'def load_from_local' in inspect.getsource(ckpt_mod)

        import torch
        from mmengine.registry import init_default_scope
        from mmseg.registry import MODELS
        init_default_scope('mmseg')
        model = MODELS.build(dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', size=(32, 32)),
            backbone=dict(type='ResNetV1c', depth=18, num_stages=4,
                          out_indices=(3, ), norm_cfg=dict(type='BN')),
            decode_head=dict(type='FCNHead', in_channels=512, channels=8,
                             num_classes=3, in_index=0,
                             norm_cfg=dict(type='BN'))))
        out = model(torch.randn(2, 3, 32, 32))
        assert out.shape == (2, 3, 1, 1), out.shape

        # a head built on a compiled op fails when built, with a clear error
        try:
            MODELS.build(dict(type='CCHead', in_channels=8, channels=4,
                              num_classes=2))
        except RuntimeError as err:
            assert 'mmcv.ops.CrissCrossAttention' in str(err), err
            assert 'full mmcv' in str(err), err
        else:
            raise AssertionError('CCHead built without CrissCrossAttention')
        print('OK')
        ''')
    assert_ok(proc)
    assert proc.stdout.strip().endswith('OK')


@pytest.fixture
def mmcv_ops():
    if not compat.install_mmcv_ops_shim():
        pytest.skip('full mmcv (with mmcv._ext) is installed')
    import mmcv.ops
    assert isinstance(mmcv.ops, mmcv_ops_shim._MmcvOpsShimModule)
    return mmcv.ops


@pytest.mark.parametrize('align_corners', [False, True])
def test_point_sample_matches_grid_sample(mmcv_ops, align_corners):
    torch.manual_seed(0)
    feats = torch.randn(2, 4, 7, 9)
    points = torch.rand(2, 11, 2) * 1.2 - 0.1  # a few points outside [0, 1]
    out = mmcv_ops.point_sample(feats, points, align_corners=align_corners)
    expected = F.grid_sample(
        feats, (2 * points - 1).unsqueeze(2),
        align_corners=align_corners).squeeze(3)
    assert out.shape == (2, 4, 11)
    torch.testing.assert_close(out, expected)

    grid_points = torch.rand(2, 3, 5, 2)
    out4 = mmcv_ops.point_sample(
        feats, grid_points, align_corners=align_corners, mode='nearest')
    expected4 = F.grid_sample(
        feats, 2 * grid_points - 1, mode='nearest',
        align_corners=align_corners)
    assert out4.shape == (2, 4, 3, 5)
    torch.testing.assert_close(out4, expected4)

    # bilinear_grid_sample is the pure-torch equivalent of grid_sample
    grid = torch.rand(2, 3, 5, 2) * 2.4 - 1.2
    torch.testing.assert_close(
        mmcv_ops.bilinear_grid_sample(feats, grid, align_corners),
        F.grid_sample(feats, grid, align_corners=align_corners))

    # also served through the submodule path mmcv uses
    from mmcv.ops.point_sample import point_sample
    assert point_sample is compat.point_sample
    assert mmcv_ops.point_sample is compat.point_sample


def test_placeholders_raise_only_when_used(mmcv_ops):
    from mmcv.ops import DeformConv2d, sigmoid_focal_loss

    # import time uses work: identity, subclassing, isinstance
    assert mmcv_ops.sigmoid_focal_loss is sigmoid_focal_loss
    assert not isinstance(nn.Conv2d(1, 1, 1), DeformConv2d)

    class MyDCN(DeformConv2d, nn.Module):
        pass

    with pytest.raises(RuntimeError) as info:
        sigmoid_focal_loss(torch.randn(2, 3), torch.tensor([0, 1]))
    message = str(info.value)
    assert 'mmcv.ops.sigmoid_focal_loss' in message
    assert 'mmcv-lite' in message and 'full mmcv' in message
    assert 'mim install mmcv' in message

    with pytest.raises(RuntimeError, match=r'mmcv\.ops\.DeformConv2d'):
        DeformConv2d(3, 3, 3)
    with pytest.raises(RuntimeError, match=r'MyDCN.*mmcv\.ops\.DeformConv2d'):
        MyDCN()

    # submodules imported by path
    from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttention
    with pytest.raises(RuntimeError, match='MultiScaleDeformableAttention'):
        MultiScaleDeformableAttention()

    # private/dunder names stay missing (introspection keeps working)
    assert not hasattr(mmcv_ops, '__file__')
    assert not hasattr(mmcv_ops, '__wrapped__')
    with pytest.raises(AttributeError):
        mmcv_ops._ext

    # mmengine's check for full mmcv still says "no"
    from mmengine.utils.dl_utils import mmcv_full_available
    assert not mmcv_full_available()
    assert compat.install_mmcv_ops_shim() is True  # idempotent
    assert sys.meta_path.count(import_hooks._FINDER) == 1


def _fake_mmcv(root, with_ext: bool) -> str:
    """A fake ``mmcv`` package on disk (optionally with an ``_ext`` binary)."""
    pkg = root / ('full' if with_ext else 'lite') / 'mmcv'
    (pkg / 'ops').mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'ops' / '__init__.py').write_text('import mmcv._ext\n')
    if with_ext:
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        (pkg / f'_ext{suffix}').write_bytes(b'')
    return str(pkg.parent)


def test_shim_inactive_when_mmcv_ext_importable(tmp_path):
    # a loaded mmcv._ext (simulated by a fake module) means full mmcv
    proc = run_python('''
        import sys, types
        sys.modules['mmcv._ext'] = types.ModuleType('mmcv._ext')
        from mstkd.utils import compat
        assert compat.install_mmcv_ops_shim() is False
        assert compat.apply_compat()['mmcv_ops_shim'] is False
        assert not compat.is_mmcv_ops_shim_active()
        assert 'mmcv.ops' not in sys.modules
        print('OK')
        ''')
    assert_ok(proc)

    # an mmcv package shipping the _ext extension: not shimmed, real
    # mmcv.ops is imported (here it is fake and loads the fake _ext)
    proc = run_python(
        '''
        import sys
        from mstkd.utils import compat
        from mstkd.utils.compat import mmcv_ops_shim
        assert compat.install_mmcv_ops_shim() is False
        import mmcv.ops
        assert not isinstance(mmcv.ops, mmcv_ops_shim._MmcvOpsShimModule)
        print('OK')
        ''',
        pythonpath=_fake_mmcv(tmp_path, with_ext=True))
    assert proc.returncode != 0  # the empty fake _ext cannot load ...
    assert '_ext' in proc.stderr  # ... and that real error surfaces
    assert 'AssertionError' not in proc.stderr

    # the same package without _ext (mmcv-lite): shimmed
    proc = run_python(
        '''
        import sys
        from mstkd.utils import compat
        from mstkd.utils.compat import mmcv_ops_shim
        assert compat.install_mmcv_ops_shim() is True
        assert 'mmcv' not in sys.modules  # lazy: mmcv not imported yet
        import mmcv.ops
        assert isinstance(mmcv.ops, mmcv_ops_shim._MmcvOpsShimModule)
        assert sys.modules['mmcv.ops'] is mmcv.ops
        print('OK')
        ''',
        pythonpath=_fake_mmcv(tmp_path, with_ext=False))
    assert_ok(proc)


# ---------------------------------------------------------------------------
# Safe checkpoint loading
# ---------------------------------------------------------------------------


class _CustomMeta:
    """A type a trusted checkpoint may hold, not allowlisted by default."""

    def __init__(self, value):
        self.value = value


def _make_runner(work_dir, max_epochs, **kwargs):
    from mmengine.hooks import Hook
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    from torch.utils.data import Dataset

    class Model(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)

        def forward(self, x, y, mode='tensor'):
            out = self.linear(x)
            if mode == 'loss':
                return dict(loss=((out - y)**2).mean())
            return out

    class Data(Dataset):

        def __len__(self):
            return 8

        def __getitem__(self, i):
            return dict(x=torch.full((2, ), i / 8.), y=torch.ones(1))

    class CountIters(Hook):

        def __init__(self):
            self.iters = []

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            self.iters.append(runner.iter)

    counter = CountIters()
    runner = Runner(
        model=Model(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=Data(),
            batch_size=4,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[counter],
        default_scope='mmengine',
        experiment_name=f'compat_{os.path.basename(work_dir)}_{id(counter)}',
        log_level='WARNING',
        **kwargs)
    return runner, counter


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory):
    """A checkpoint written by a real mmengine Runner (1 epoch, 2 iters)."""
    assert compat.apply_compat()['safe_checkpoint_loading'] in (True, False)
    assert compat.setup_safe_checkpoint_loading() in (True, False)
    work_dir = tmp_path_factory.mktemp('runner')
    runner, counter = _make_runner(work_dir / 'first', max_epochs=1)
    runner.train()
    assert counter.iters == [0, 1]
    ckpt = work_dir / 'first' / 'epoch_1.pth'
    assert ckpt.is_file()
    return ckpt


needs_add_safe_globals = pytest.mark.skipif(
    not hasattr(torch.serialization, 'add_safe_globals'),
    reason='torch < 2.4 has no weights-only allowlist')


@needs_add_safe_globals
def test_allowlist_covers_exactly_what_the_checkpoint_holds(
        runner_checkpoint):
    from torch import _weights_only_unpickler
    from torch.serialization import get_unsafe_globals_in_checkpoint
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        needed = set(get_unsafe_globals_in_checkpoint(str(runner_checkpoint)))
    finally:
        torch.serialization.add_safe_globals(saved)
    # the checkpoint holds non-default globals (what breaks mmengine) ...
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in needed
    assert 'builtins.getattr' in needed
    # ... all of them allowlisted by compat, by name
    torch.serialization.clear_safe_globals()
    try:
        torch.serialization.add_safe_globals(
            compat.MMENGINE_CHECKPOINT_GLOBALS)
        allowed = set(_weights_only_unpickler._get_user_allowed_globals())
        assert not get_unsafe_globals_in_checkpoint(str(runner_checkpoint))
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(saved)
    assert needed <= allowed, needed - allowed
    # a weights-only torch.load now reads it, including the message hub
    ckpt = torch.load(str(runner_checkpoint), map_location='cpu',
                      weights_only=True)
    assert set(ckpt) >= {'meta', 'state_dict', 'message_hub', 'optimizer',
                         'param_schedulers'}
    loss = ckpt['message_hub']['log_scalars']['train/loss']
    assert len(loss.data[0]) == 2
    assert loss.mean() == pytest.approx(loss.data[0].mean())


@needs_add_safe_globals
def test_setup_is_idempotent(runner_checkpoint):
    from mmengine.runner.checkpoint import CheckpointLoader
    allowed_before = set(map(repr, torch.serialization.get_safe_globals()))
    n_globals = len(compat.MMENGINE_CHECKPOINT_GLOBALS)
    assert compat.setup_safe_checkpoint_loading() is True
    assert compat.apply_compat()['safe_checkpoint_loading'] is True
    assert len(compat.MMENGINE_CHECKPOINT_GLOBALS) == n_globals
    assert set(map(repr, torch.serialization.get_safe_globals())) == \
        allowed_before
    local = CheckpointLoader._schemes['']
    assert local._mstkd_guarded
    assert not getattr(local.__wrapped__, '_mstkd_guarded', False)


def test_runner_resumes_and_loads(runner_checkpoint, tmp_path):
    from mmengine.runner import load_checkpoint

    # resume=True: continues at epoch 1 / iter 2, trains only epoch 2
    runner, counter = _make_runner(
        tmp_path / 'resumed', max_epochs=2, resume=True,
        load_from=str(runner_checkpoint))
    runner.train()
    assert counter.iters == [2, 3]
    assert (runner.epoch, runner.iter) == (2, 4)
    # the message hub (HistoryBuffer) was restored: 2 old + 2 new losses
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) == 4

    # load_from without resume: weights only, training restarts at 0
    runner, counter = _make_runner(
        tmp_path / 'finetune', max_epochs=1,
        load_from=str(runner_checkpoint))
    runner.train()
    assert counter.iters == [0, 1]

    # mmengine.runner.load_checkpoint
    model = _make_runner(tmp_path / 'plain', max_epochs=1)[0].model
    ckpt = load_checkpoint(model, str(runner_checkpoint), map_location='cpu')
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 2
    torch.testing.assert_close(model.linear.weight,
                               ckpt['state_dict']['linear.weight'])


class _RunsShell:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class _RunsPython:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f'open({str(self.marker)!r}, "w").close()', ))


class _ReadsAttribute:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from mmengine.logging.history_buffer import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


class _ReadsOtherAttribute(_ReadsAttribute):

    def __reduce__(self):
        import numpy as np
        return (getattr, (np.ndarray, 'min'))


@needs_add_safe_globals
@pytest.mark.parametrize('payload,rejected', [
    (_RunsShell, 'system'),
    (_RunsPython, 'exec'),
    (_ReadsAttribute, "getattr(HistoryBuffer, '__init__')"),
    (_ReadsOtherAttribute, "getattr(ndarray, 'min')"),
])
def test_malicious_checkpoint_is_refused(runner_checkpoint, tmp_path, payload,
                                         rejected):
    from mmengine.runner import load_checkpoint
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': {}, 'evil': payload(marker)},
               str(path))
    model = nn.Linear(2, 1)
    with pytest.raises(compat.CheckpointUnpicklingError) as info:
        load_checkpoint(model, str(path), map_location='cpu')
    message = str(info.value)
    assert str(path) in message
    assert rejected in message and info.value.rejected.endswith(rejected)
    assert 'only load checkpoints you trust' in message.lower()
    assert 'allow_checkpoint_globals' in message
    assert not marker.exists(), 'the payload was executed'

    # torch.load for other callers keeps its own behaviour: refused too
    with pytest.raises(Exception) as plain:
        torch.load(str(path))
    assert not isinstance(plain.value, compat.CheckpointUnpicklingError)
    assert not marker.exists()


@needs_add_safe_globals
def test_allow_checkpoint_globals(tmp_path):
    from mmengine.runner import load_checkpoint
    path = tmp_path / 'custom.pth'
    torch.save({'state_dict': {}, 'meta': {'extra': _CustomMeta(3)}},
               str(path))
    with pytest.raises(compat.CheckpointUnpicklingError, match='_CustomMeta'):
        load_checkpoint(nn.Linear(2, 1), str(path))
    compat.allow_checkpoint_globals([_CustomMeta])
    ckpt = load_checkpoint(nn.Linear(2, 1), str(path), strict=False)
    assert isinstance(ckpt['meta']['extra'], _CustomMeta)
    assert ckpt['meta']['extra'].value == 3
    with pytest.raises(ValueError, match='getattr'):
        compat.allow_checkpoint_globals([getattr])


@needs_add_safe_globals
def test_numpy1_checkpoint_paths_load(tmp_path):
    """Checkpoints pickled under numpy 1.x name ``numpy.core.multiarray``."""
    import numpy as np
    compat.setup_safe_checkpoint_loading()
    path = tmp_path / 'np1.pth'
    torch.save({'a': np.arange(3), 's': np.float64(2.5)}, str(path),
               _use_new_zipfile_serialization=False)
    raw = path.read_bytes()
    if b'numpy._core.multiarray\n' not in raw:
        pytest.skip('numpy < 2 writes the numpy 1.x paths already')
    path.write_bytes(
        raw.replace(b'numpy._core.multiarray\n', b'numpy.core.multiarray\n'))
    ckpt = torch.load(str(path), weights_only=True)
    assert ckpt['a'].tolist() == [0, 1, 2] and ckpt['s'] == 2.5


def test_no_forbidden_strings_in_compat_sources():
    forbidden = ('weights_only' + '=False', 'TORCH_FORCE_NO_' +
                 'WEIGHTS_ONLY_LOAD')
    package = os.path.dirname(compat.__file__)
    sources = sorted(glob.glob(os.path.join(package, '*.py')))
    assert len(sources) >= 4, sources  # __init__ + the three parts
    for path in sources + [__file__]:
        with open(path) as f:
            text = f.read()
        for word in forbidden:
            assert word not in text, f'{word} found in {path}'
