"""Slim checkpoints (StageCheckpointHook ``slim=True``) on a tiny MST run:
what each kind holds (init.pth: the MaskNets / GateNet before their
stage), that resume from every kind reproduces the
uninterrupted run bitwise, and that a student-only best checkpoint tests
as the full model."""
import glob
import json
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mstkd.utils import register_all_modules
from mstkd.utils.checkpoint import load_full_state_dict
from mstkd.utils.errors import DataNotFoundError, UserInputError
from tests.helpers import data_options, direct_oa, run_tool

MST_CFG = 'configs/mst/mst_avdigits_image.py'
TEACHERS = ['members.audio.', 'members.mm.']


class Snapshot(Hook):
    """After every epoch's checkpoint (written after validation): a copy of
    the work dir's checkpoints, as a kill at that point would leave it."""
    priority = 'LOWEST'

    def __init__(self, root):
        self.root = root

    def after_val_epoch(self, runner, metrics=None):
        if runner.train_loop is None or not hasattr(runner.train_loop,
                                                    'stage'):
            return
        dst = osp.join(self.root, f'epoch_{runner.epoch}')
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(runner.work_dir, dst, ignore=shutil.ignore_patterns(
            '2*', 'vis_data', '*.py', '.*'))


def _cfg(npz, work, epochs=(2, 2, 2), slim=True, resume_from=None):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(MST_CFG)
    cfg.merge_from_dict(dict(kv.split('=', 1) for kv in data_options(npz)))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.n_mels = 64
        cfg[loader].dataset.n_frames = 64
        cfg[loader].batch_size = 32
    cfg.train_cfg.update(s1_epochs=epochs[0], s2_epochs=epochs[1],
                         s3_epochs=epochs[2])
    cfg.model.masknet.projector = 'light'
    cfg.default_hooks.checkpoint.slim = slim
    cfg.default_hooks.logger.interval = 100
    cfg.work_dir = work
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, resume_from
    return cfg


def _state(runner):
    return {k: v.detach().clone() for k, v in
            runner.model.state_dict().items()}


@pytest.fixture(scope='module')
def run(tiny_avdigits, tmp_path_factory):
    """A 2+2+2-epoch MST run with slim checkpoints: work dir, snapshot
    root, final weights, the student's weight bytes."""
    root = tmp_path_factory.mktemp('slim')
    work, snaps = str(root / 'work'), str(root / 'snap')
    runner = Runner.from_cfg(_cfg(tiny_avdigits, work))
    runner.register_hook(Snapshot(snaps))
    runner.train()
    student = sum(v.numel() * v.element_size() for k, v in
                  runner.model.state_dict().items()
                  if k.startswith('members.image.'))
    return dict(work=work, snaps=snaps, final=_state(runner),
                keys=set(runner.model.state_dict()), student=student,
                npz=tiny_avdigits, root=root)


def _load(path):
    return torch.load(path, map_location='cpu')


def _tops(ckpt):
    """``members.<name>.`` / ``<component>.`` prefixes of the weights."""
    return {('.'.join(k.split('.')[:2]) if k.startswith('members.') else
             k.split('.')[0]) + '.' for k in ckpt['state_dict']}


def _optim_states(ckpt):
    return {s: bool(v['state']) for s, v in ckpt['optimizer'].items()}


def test_what_each_checkpoint_holds(run):
    work, snaps = run['work'], run['snaps']
    members = TEACHERS + ['members.image.']

    def refs(ckpt):
        return {k: v['prefixes'] for k, v in
                ckpt['meta'].get('external_state', {}).items()}

    # init.pth, written once at the start: the initial weights of what
    # only later stages train (the MaskNets, S2; the GateNet, S3)
    init = _load(osp.join(work, 'init.pth'))
    assert _tops(init) == {'gate.', 'masknets.'}
    # S1 (epoch 1 of 2): the members and S1's optimizer state; the
    # untrained MaskNets and GateNet are init.pth's
    e1 = _load(osp.join(snaps, 'epoch_1', 'epoch_1.pth'))
    assert _tops(e1) == set(members)
    assert _optim_states(e1) == dict(s1=True, s2=False, s3=False)
    assert refs(e1) == {'init.pth': ['gate.', 'masknets.']}
    assert set(load_full_state_dict(
        osp.join(snaps, 'epoch_1', 'epoch_1.pth'))) == run['keys']
    # s1_end: the members, no optimizer state (S1 is over)
    s1 = _load(osp.join(work, 's1_end.pth'))
    assert _tops(s1) == set(members)
    assert refs(s1) == {'init.pth': ['gate.', 'masknets.']}
    assert not any(_optim_states(s1).values())
    # S2 (epoch 3): the teachers are s1_end.pth's, the GateNet init.pth's
    e3 = _load(osp.join(snaps, 'epoch_3', 'epoch_3.pth'))
    assert _tops(e3) == {'masknets.', 'members.image.'}
    assert _optim_states(e3) == dict(s1=False, s2=True, s3=False)
    assert refs(e3) == {'s1_end.pth': TEACHERS, 'init.pth': ['gate.']}
    # s2_end: MaskNets once (the selected copies share their storage)
    s2 = _load(osp.join(work, 's2_end.pth'))
    assert _tops(s2) == {'masknets.', 'members.image.'}
    assert refs(s2) == {'s1_end.pth': TEACHERS, 'init.pth': ['gate.']}
    assert not any(_optim_states(s2).values())
    best = s2['masknet_selection']['best_states']
    assert best
    for key, state in best.items():
        for name, value in state.items():
            own = s2['state_dict'][f'masknets.{key}.{name}']
            assert value.untyped_storage().data_ptr() == \
                own.untyped_storage().data_ptr()
    # S3 (epoch 5) and its end: the student and the gate
    for ckpt, trains in ((_load(osp.join(snaps, 'epoch_5', 'epoch_5.pth')),
                          True), (_load(osp.join(work, 's3_end.pth')),
                                  False),
                         (_load(osp.join(work, 'epoch_6.pth')), False)):
        assert _tops(ckpt) == {'gate.', 'members.image.'}
        assert _optim_states(ckpt) == dict(s1=False, s2=False, s3=trains)
        refs = ckpt['meta']['external_state']
        assert {k: v['prefixes'] for k, v in refs.items()} == {
            's1_end.pth': TEACHERS, 's2_end.pth': ['masknets.']}
        assert ckpt['masknet_selection']['best_states'] == {}
    # a stage's last epoch checkpoint is its stage-end file (a hard link:
    # written once); S2's, epoch_4.pth, is gone (max_keep_ckpts=1) while
    # s2_end.pth stays
    assert osp.samefile(osp.join(work, 'epoch_6.pth'),
                        osp.join(work, 's3_end.pth'))
    assert not osp.exists(osp.join(work, 'epoch_4.pth'))
    # best checkpoints: the student and the gate, nothing else
    bests = glob.glob(osp.join(work, 'best_*.pth'))
    assert len(bests) == 2
    for path in bests:
        ckpt = _load(path)
        assert _tops(ckpt) == {'gate.', 'members.image.'}
        for entry in ('optimizer', 'rng_state', 'masknet_selection',
                      'param_schedulers'):
            assert entry not in ckpt
        assert ckpt['meta']['partial_state']['dropped'] == \
            ['masknets.'] + TEACHERS
        assert osp.getsize(path) <= 2 * run['student'] + 64 * 1024, (
            osp.getsize(path), run['student'])
    # every file refers to existing files, and fills back to the model
    for path in glob.glob(osp.join(work, '*.pth')):
        if 'best_' in osp.basename(path) or path.endswith('init.pth'):
            continue
        assert set(load_full_state_dict(path)) == run['keys'], path
    final = load_full_state_dict(osp.join(work, 'epoch_6.pth'))
    for key, value in run['final'].items():
        assert torch.equal(final[key], value), key


@pytest.mark.parametrize('source', [
    'epoch_1', 'epoch_3', 'epoch_4', 'epoch_5', 's1_end', 's2_end'])
def test_resume_from_every_kind_is_exact(run, tmp_path, source):
    """Resumed from a copy of the work dir (epoch checkpoints: as a kill
    after that epoch left it; stage ends: with the earlier stage ends
    only), the run ends with the weights of the uninterrupted one: bitwise
    at 2 threads (the suite's default); at 1 thread (OMP_NUM_THREADS=1)
    resuming from epoch_5 differs by 1.5e-8, float rounding of a kernel
    that runs otherwise on freshly loaded tensors."""
    work = str(tmp_path / 'work')
    if source == 'epoch_4':
        # S2's last epoch: its checkpoint is a hard link to s2_end.pth, made
        # once that exists (after the snapshot of the epoch); resuming from
        # it knows the MaskNets are in s2_end.pth (S3 stays slim, below)
        shutil.os.makedirs(work)
        for name in ('s1_end.pth', 's2_end.pth', 'init.pth'):
            shutil.copy(osp.join(run['work'], name), work)
        shutil.os.link(osp.join(work, 's2_end.pth'),
                       osp.join(work, 'epoch_4.pth'))
    elif source.startswith('epoch_'):
        shutil.copytree(osp.join(run['snaps'], source), work)
    else:
        shutil.os.makedirs(work)
        for stage in ('s1', 's2')[:int(source[1])]:
            shutil.copy(osp.join(run['work'], f'{stage}_end.pth'), work)
        shutil.copy(osp.join(run['work'], 'init.pth'), work)
    threads = torch.get_num_threads()
    runner = Runner.from_cfg(_cfg(run['npz'], work, resume_from=osp.join(
        work, f'{source}.pth')))
    runner.train()
    torch.set_num_threads(threads)
    got = _state(runner)
    assert set(got) == set(run['final'])
    for key, value in run['final'].items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-7,
                                   msg=key)
    # what the resumed run wrote in S3 is slim as well
    ckpt = _load(osp.join(work, 'epoch_6.pth'))
    assert _tops(ckpt) == {'gate.', 'members.image.'}
    final = load_full_state_dict(osp.join(work, 'epoch_6.pth'))
    assert all(torch.equal(final[k], v) for k, v in got.items())


def test_best_checkpoint_tests_as_the_full_model(run, tmp_path):
    work, snaps, npz = run['work'], run['snaps'], run['npz']
    (best, ) = glob.glob(osp.join(work, 'best_OA_epoch_*.pth'))
    epoch = int(best.split('_')[-1].split('.')[0])
    # the full (slim, filled back) epoch checkpoint of the same epoch
    full = osp.join(snaps, f'epoch_{epoch}', f'epoch_{epoch}.pth')
    metrics = []
    for name, ckpt in (('best', best), ('full', full)):
        out = str(tmp_path / f'{name}.json')
        res = run_tool(['tools/test.py', MST_CFG, ckpt, '--out', out,
                        '--work-dir', str(tmp_path / name),
                        '--cfg-options', *data_options(npz)])
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        metrics.append(json.load(open(out)))
    assert metrics[0] == metrics[1]
    assert metrics[0]['OA'] == pytest.approx(
        direct_oa(MST_CFG, best, data_options(npz)), abs=1e-12)


def test_missing_or_overwritten_stage_end_file(run, tmp_path):
    work = str(tmp_path / 'w')
    shutil.copytree(osp.join(run['snaps'], 'epoch_5'), work)
    ckpt = osp.join(work, 'epoch_5.pth')
    # overwritten by another run: the checksum says so
    shutil.copy(osp.join(run['snaps'], 'epoch_1', 'epoch_1.pth'),
                osp.join(work, 's1_end.pth'))
    with pytest.raises(UserInputError, match='s1_end.pth no longer holds '
                       'the members.audio, members.mm weights'):
        load_full_state_dict(ckpt)
    import os
    os.remove(osp.join(work, 's1_end.pth'))
    with pytest.raises(DataNotFoundError) as err:
        load_full_state_dict(ckpt)
    msg = str(err.value)
    assert '\n' not in msg and 's1_end.pth' in msg and \
        'members.audio, members.mm weights' in msg and 'is gone' in msg
    # through tools/test.py: one line, exit 2
    res = run_tool(['tools/test.py', MST_CFG, ckpt, '--work-dir',
                    str(tmp_path / 't'), '--cfg-options',
                    *data_options(run['npz'])])
    assert res.returncode == 2, res.stdout[-2000:] + res.stderr[-2000:]
    assert 'Traceback' not in res.stderr and 's1_end.pth' in res.stderr


def test_resume_from_a_best_checkpoint_is_refused(run, tmp_path):
    (best, ) = glob.glob(osp.join(run['work'], 'best_CE_epoch_*.pth'))
    runner = Runner.from_cfg(_cfg(run['npz'], str(tmp_path / 'w'),
                                  resume_from=best))
    with pytest.raises(UserInputError, match='holds the student only'):
        runner.train()


def test_slim_false_writes_whole_checkpoints(run, tmp_path):
    work = str(tmp_path / 'full')
    Runner.from_cfg(_cfg(run['npz'], work, epochs=(1, 1, 1),
                         slim=False)).train()
    slim = str(tmp_path / 'slim')
    Runner.from_cfg(_cfg(run['npz'], slim, epochs=(1, 1, 1))).train()
    sizes = {}
    for name in ('s1_end.pth', 's2_end.pth', 's3_end.pth', 'epoch_3.pth'):
        ckpt = _load(osp.join(work, name))
        assert set(ckpt['state_dict']) == run['keys']
        assert 'external_state' not in ckpt['meta']
        sizes[name] = osp.getsize(osp.join(work, name)), osp.getsize(
            osp.join(slim, name))
    for path in glob.glob(osp.join(work, 'best_*.pth')):
        assert set(_load(path)['state_dict']) == run['keys']
    # the finished stage's optimizer state is dropped in any case
    assert not _load(osp.join(work, 's2_end.pth'))['optimizer']['s2'][
        'state']
    total = [sum(osp.getsize(p) for p in glob.glob(osp.join(d, '*.pth')))
             for d in (work, slim)]
    print('sizes (whole, slim):', sizes, 'total:', total)
    assert total[1] < total[0] / 2
