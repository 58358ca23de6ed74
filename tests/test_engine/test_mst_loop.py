"""MSTDistillLoop: three stages through the Runner, stage checkpoints,
routing statistics, and resuming a crashed run in the right stage."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mstkd.engine.hooks import MaskNetSelectionHook
from mstkd.utils.checkpoint import load_full_state_dict
from tests.helpers import (REPO, data_options, direct_oa, run_tool,
                           tiny_mst_config)

MST_CFG = 'configs/mst/mst_avdigits_image.py'
KILLABLE = osp.join(osp.dirname(__file__), 'killable_train.py')
THREADS = torch.get_num_threads()


def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


def _scalars(work_dir):
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    rows = []
    for path in files:
        rows += [json.loads(line) for line in open(path)]
    return rows


def test_three_stages_through_tools(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'mst')
    opts = data_options(tiny_avdigits) + [
        'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
        'train_cfg.s3_epochs=2', 'model.masknet.projector=light']
    log = _ok(run_tool(['tools/train.py', MST_CFG, '--work-dir', work,
                        '--cfg-options', *opts]))
    for stage in ('s1', 's2', 's3'):
        assert osp.isfile(osp.join(work, f'{stage}_end.pth'))
        assert f'Entering {stage.upper()}' in log
    assert 'MaskNet validation KL' in log and 'Routing (epoch 3)' in log
    # every training line names its stage and shows that stage's lr only;
    # S3 lines show lambda1 / lambda2 (Eq. 18)
    lines = [line for line in log.splitlines() if 'Epoch(train)' in line]
    by_stage = {s: [line for line in lines if f' {s.upper()} Epoch(train)'
                    in line] for s in ('s1', 's2', 's3')}
    assert all(by_stage.values()) and sum(map(len, by_stage.values())) == \
        len(lines)
    for stage, stage_lines in by_stage.items():
        for line in stage_lines:
            assert f'{stage}.lr' in line
            assert [s for s in by_stage if f'{s}.lr' in line] == [stage]
            assert ('lambda1: 1.0000' in line and 'lambda2: 1.0000' in line
                    ) == (stage == 's3')
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    # the best student is chosen in S3 only (epochs 3-4)
    assert len(best) == 1 and int(best[0][-5]) in (3, 4)

    rows = _scalars(work)
    routing = [r for r in rows if 'routing/prob/mm:fusion.concat' in r]
    assert [r['step'] for r in routing] == [3, 4]
    for r in routing:  # the mean routing probabilities sum to 1
        total = sum(v for k, v in r.items() if k.startswith('routing/prob/'))
        assert total == pytest.approx(1.0, abs=1e-5)
        assert sum(v for k, v in r.items()
                   if k.startswith('routing/topk/')) == pytest.approx(1.0)
    assert any('val/masknet_kl/audio:conv2' in r for r in rows)

    stage_ckpt = torch.load(osp.join(work, 's2_end.pth'), map_location='cpu')
    assert stage_ckpt['meta']['epoch'] == 2
    assert stage_ckpt['meta']['stage'] == 's2'
    # one optimizer per stage; S1's and S2's states are dropped once their
    # stage ended (resuming from s2_end starts S3)
    optim = stage_ckpt['optimizer']
    assert set(optim) == {'s1', 's2', 's3'}
    assert not optim['s1']['state'] and not optim['s2']['state']
    assert not optim['s3']['state']  # S3 has not run yet at s2_end

    _assert_frozen_parts_unchanged(work, student='image')

    out = str(tmp_path / 'm.json')
    _ok(run_tool(['tools/test.py', MST_CFG, best[0], '--out', out,
                  '--work-dir', str(tmp_path / 't'), '--cfg-options',
                  *opts]))
    # tools/test.py's OA is the student's on a plain forward pass
    oa = json.load(open(out))['OA']
    assert oa == pytest.approx(
        direct_oa(MST_CFG, best[0], opts, student='image'), abs=1e-12)
    # and the short run learned: 10 classes, chance 0.1 (measured 0.575)
    assert oa > 0.3


def _assert_frozen_parts_unchanged(work, student):
    """What a stage freezes is bitwise what the stage before left: every
    member (weights and BatchNorm statistics) and the GateNet through S2,
    the teachers through S3, the MaskNets from S2's end through S3; what a
    stage trains has changed (so the comparison can fail)."""
    # (slim checkpoints: the teachers / MaskNets read back from the
    # stage-end file that holds them)
    s1, s2, s3 = (load_full_state_dict(osp.join(work, f'{s}_end.pth'))
                  for s in ('s1', 's2', 's3'))

    def part(state, prefix):
        out = {k: v for k, v in state.items() if k.startswith(prefix)}
        assert out, f'no {prefix}* in the checkpoint'
        return out

    def same(a, b, prefix):
        a, b = part(a, prefix), part(b, prefix)
        assert a.keys() == b.keys(), prefix
        changed = [k for k in a if not torch.equal(a[k], b[k])]
        assert not changed, f'{prefix}: {changed[:5]} changed'

    def differs(a, b, prefix):
        a, b = part(a, prefix), part(b, prefix)
        assert any(not torch.equal(a[k], b[k]) for k in a), prefix

    teachers = sorted({k.split('.')[1] for k in s1 if k.startswith(
        'members.')} - {student})
    assert teachers == ['audio', 'mm']
    same(s1, s2, 'members.')  # S2 trains the MaskNets only
    same(s1, s2, 'gate.')
    for teacher in teachers:  # S3 trains the student and the GateNet
        same(s1, s3, f'members.{teacher}.')
    same(s2, s3, 'masknets.')
    differs(s2, s3, f'members.{student}.')
    differs(s2, s3, 'gate.')
    differs(s1, s2, 'masknets.')  # built (untrained) before S1 ends


class CrashAt(Hook):
    """Simulates a kill right after the checkpoint of epoch ``epoch``
    (written after that epoch's validation)."""
    priority = 'LOWEST'  # after CheckpointHook has written the file

    def __init__(self, epoch):
        self.epoch = epoch

    def after_val_epoch(self, runner, metrics=None):
        if runner.epoch == self.epoch:
            raise KeyboardInterrupt(f'killed after epoch {self.epoch}')


class StageRecorder(Hook):

    def __init__(self):
        self.entered = []

    def before_train_stage(self, runner, stage):
        self.entered.append((stage, runner.epoch))


def _runner(tiny_avdigits, work_dir, name, resume=False):
    cfg = tiny_mst_config(tiny_avdigits, work_dir, name, s1=1, s2=2, s3=2,
                          resume=resume)
    return Runner.from_cfg(cfg)


@pytest.mark.parametrize('crash_epoch,stage', [(2, 's2'), (4, 's3')])
def test_resume_after_a_kill_lands_in_stage_and_epoch(
        tiny_avdigits, tmp_path, crash_epoch, stage):
    work = str(tmp_path / 'work')
    runner = _runner(tiny_avdigits, work, f'crash{crash_epoch}')
    runner.register_hook(CrashAt(crash_epoch))
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    saved = torch.load(osp.join(work, f'epoch_{crash_epoch}.pth'),
                       map_location='cpu')
    assert saved['meta']['epoch'] == crash_epoch

    recorder = StageRecorder()
    resumed = _runner(tiny_avdigits, work, f'resume{crash_epoch}',
                      resume=True)
    resumed.register_hook(recorder)
    resumed.train()
    # continues in the stage of the next epoch, at that epoch
    assert recorder.entered[0] == (stage, crash_epoch)
    assert [s for s, _ in recorder.entered] == \
        ['s2', 's3'][['s2', 's3'].index(stage):]
    assert resumed.train_loop.epoch == 5
    for name in ('s2_end.pth', 's3_end.pth'):
        assert osp.isfile(osp.join(work, name))
    # the MaskNets' best validation states survived the kill
    model = resumed.model
    selection = next(h for h in resumed.hooks
                     if isinstance(h, MaskNetSelectionHook))
    keys = {s.key for s in model.specialized}
    extra = saved['masknet_selection']
    # the checkpoint was written after the epoch's validation: it holds the
    # best MaskNets found so far (also when killed inside S2)
    assert set(extra['best_kl']) == keys
    if stage == 's2':
        assert set(extra['best_states']) == keys
        assert set(selection.best_states) == keys
    else:
        # kept through the kill: S2's best MaskNets, used by S3, which a
        # slim S3 checkpoint leaves to s2_end.pth (no copies either)
        assert extra['best_states'] == {}
        assert 'masknets.' not in {k[:9] for k in saved['state_dict']}
        held = load_full_state_dict(osp.join(work, 's2_end.pth'))
        for key in keys:
            for name, value in model.masknets[key].state_dict().items():
                torch.testing.assert_close(
                    value, held[f'masknets.{key}.{name}'], rtol=0, atol=0)


def _train_until_killed(args, marker, **at):
    """``tools/train.py ARGS`` as a subprocess, sent SIGKILL from outside
    once it waits at ``at`` (see ``killable_train.py``)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', KILL_MARKER=marker,
               **{f'KILL_AT_{k.upper()}': v for k, v in at.items()})
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    proc = subprocess.Popen(
        [sys.executable, KILLABLE, *args], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not osp.exists(marker):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError('did not reach ' + str(at) + ': ' +
                                 proc.communicate()[1][-3000:])
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return json.load(open(marker))


def _last_checkpoint(work):
    """``last_checkpoint`` names an existing file that loads (weights only)
    with its epoch."""
    with open(osp.join(work, 'last_checkpoint')) as f:
        path = f.read().strip()
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    return osp.basename(path), ckpt['meta']['epoch']


def test_resume_reproduces_the_uninterrupted_run(tiny_avdigits, tmp_path):
    """Killed with SIGKILL (from outside, a real ``kill -9``) in the
    middle of S2's second epoch, resumed, killed again between writing
    epoch 3's checkpoint and renaming it, resumed again: the same final
    weights, bitwise, as a run that was never interrupted; at each kill
    ``last_checkpoint`` names an existing, loadable checkpoint."""
    torch.set_num_threads(1)  # as the subprocesses (OMP_NUM_THREADS=1)
    try:
        whole = _runner(tiny_avdigits, str(tmp_path / 'whole'), 'whole')
        whole.train()
    finally:
        torch.set_num_threads(THREADS)
    work = str(tmp_path / 'killed')
    args = [MST_CFG, '--work-dir', work, '--cfg-options',
            *data_options(tiny_avdigits), 'train_cfg.s1_epochs=1',
            'train_cfg.s2_epochs=2', 'train_cfg.s3_epochs=2',
            'model.masknet.projector=light']
    # 1. at the second batch of epoch 3 (the second epoch of S2)
    at = _train_until_killed(args, str(tmp_path / 'm1'), iter='s2:3:2')
    assert at['stage'] == 's2' and at['iter'] > 0
    assert _last_checkpoint(work) == ('epoch_2.pth', 2)
    # 2. resumed; killed when epoch 3's checkpoint is written, not renamed
    at = _train_until_killed(args + ['--resume'], str(tmp_path / 'm2'),
                             rename='epoch_3.pth')
    assert at['src'] == osp.join(work, '.epoch_3.pth.tmp')
    assert torch.load(at['src'], map_location='cpu',
                      weights_only=True)['meta']['epoch'] == 3
    assert not osp.exists(osp.join(work, 'epoch_3.pth'))
    assert _last_checkpoint(work) == ('epoch_2.pth', 2)
    # 3. resumed to the end
    proc = run_tool(['tools/train.py', *args, '--resume'])
    _ok(proc)
    assert 'Auto resumed from the latest checkpoint' in proc.stdout + \
        proc.stderr
    assert _last_checkpoint(work) == ('epoch_5.pth', 5)
    want = load_full_state_dict(osp.join(tmp_path, 'whole', 'epoch_5.pth'))
    got = load_full_state_dict(osp.join(work, 'epoch_5.pth'))
    assert set(got) == set(want)
    assert set(want) == set(whole.model.state_dict())
    for key, value in want.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)


def test_optimizers_per_stage_are_disjoint(tiny_avdigits, tmp_path):
    runner = _runner(tiny_avdigits, str(tmp_path), 'optim')
    # Runner.train() builds the loop (which builds the MaskNets) first.
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    optim = runner.build_optim_wrapper(runner.optim_wrapper)
    model = runner.model
    params = {k: {id(p) for g in w.optimizer.param_groups
                   for p in g['params']} for k, w in optim.items()}
    assert set(params) == {'s1', 's2', 's3'}
    student = {id(p) for p in model.members['image'].parameters()}
    gate = {id(p) for p in model.gate.parameters()}
    masks = {id(p) for p in model.masknets.parameters()}
    members = {id(p) for p in model.members.parameters()}
    assert params['s1'] == members
    assert params['s2'] == masks
    assert params['s3'] == student | gate
