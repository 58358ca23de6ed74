"""Checkpoints survive a kill (StageCheckpointHook): a process killed while
writing a checkpoint keeps its resume point, and a resumed config with
other stage lengths up to the checkpoint is refused."""
import glob
import os
import os.path as osp
import subprocess
import sys
import textwrap

import torch

from tests.helpers import REPO, data_options, run_tool

MEMBER_CFG = 'configs/members/avdigits_image.py'
MST_CFG = 'configs/mst/mst_avdigits_image.py'

# tools/train.py in a process that dies (os._exit, as a SIGKILL: no
# cleanup, no exception handler) half-way through writing the N-th file
# whose name starts with MATCH (checkpoints are written as '.<name>.tmp').
KILLER = textwrap.dedent('''
    import os, runpy, sys
    from mmengine.fileio.backends import local_backend
    match, kill_at = os.environ['KILL_MATCH'], int(os.environ['KILL_AT'])
    put = local_backend.LocalBackend.put
    calls = []

    def dying_put(self, obj, filepath):
        if os.path.basename(str(filepath)).startswith(match):
            calls.append(filepath)
            if len(calls) == kill_at:
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                os._exit(137)
        return put(self, obj, filepath)

    local_backend.LocalBackend.put = dying_put
    sys.argv = ['tools/train.py'] + sys.argv[1:]
    runpy.run_path('tools/train.py', run_name='__main__')
''')


def _killed_train(args, match, kill_at):
    env = dict(os.environ, KILL_MATCH=match, KILL_AT=str(kill_at),
               OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    return subprocess.run([sys.executable, '-c', KILLER] + args, cwd=REPO,
                          env=env, capture_output=True, text=True,
                          timeout=600)


def _last(work):
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def test_kill_while_writing_the_epoch_checkpoint(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'work')
    args = [MEMBER_CFG, '--work-dir', work, '--cfg-options',
            'train_cfg.max_epochs=3', *data_options(tiny_avdigits)]
    # the second per-epoch checkpoint (epoch 2) is cut half-way
    proc = _killed_train(args, '.epoch_', 2)
    assert proc.returncode == 137, proc.stderr[-3000:]
    # the resume point of epoch 1 is intact and named by last_checkpoint
    assert _last(work) == osp.join(work, 'epoch_1.pth')
    ckpt = torch.load(_last(work), map_location='cpu', weights_only=True)
    assert ckpt['meta']['epoch'] == 1
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    # the half-written file has the temporary name only
    assert glob.glob(osp.join(work, '.epoch_2.pth.tmp'))
    proc = run_tool(['tools/train.py', *args, '--resume'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Auto resumed from the latest checkpoint' in proc.stdout + \
        proc.stderr
    assert _last(work) == osp.join(work, 'epoch_3.pth')
    assert sorted(osp.basename(p) for p in glob.glob(
        osp.join(work, 'epoch_*.pth'))) == ['epoch_3.pth']


def test_kill_while_writing_a_best_checkpoint(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'work')
    args = [MEMBER_CFG, '--work-dir', work, '--cfg-options',
            'train_cfg.max_epochs=2', *data_options(tiny_avdigits)]
    # epoch 1's validation writes best_CE, then best_OA (cut half-way)
    proc = _killed_train(args, '.best_OA', 1)
    assert proc.returncode == 137, proc.stderr[-3000:]
    # the epoch checkpoint is written after validation and best models:
    # the kill came before it, so no epoch checkpoint and no last_checkpoint
    assert not glob.glob(osp.join(work, 'epoch_*.pth'))
    assert not glob.glob(osp.join(work, 'best_OA_*.pth'))
    assert glob.glob(osp.join(work, '.best_OA_*.tmp'))
    # the best-CE checkpoint written just before is complete
    (best_ce, ) = glob.glob(osp.join(work, 'best_CE_*.pth'))
    torch.load(best_ce, map_location='cpu', weights_only=True)


def test_resume_with_other_stage_lengths_is_refused(tiny_avdigits,
                                                     tmp_path):
    work = str(tmp_path / 'work')
    opts = [*data_options(tiny_avdigits), 'model.masknet.projector=light']
    proc = run_tool(['tools/train.py', MST_CFG, '--work-dir', work,
                     '--cfg-options', 'train_cfg.s1_epochs=1',
                     'train_cfg.s2_epochs=1', 'train_cfg.s3_epochs=1',
                     *opts])
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = osp.join(work, 's2_end.pth')  # the end of S2 (epoch 2)
    proc = run_tool(['tools/train.py', MST_CFG, '--work-dir', work,
                     '--resume', ckpt, '--cfg-options',
                     'train_cfg.s1_epochs=2', 'train_cfg.s2_epochs=1',
                     'train_cfg.s3_epochs=1', *opts])
    assert proc.returncode == 2, proc.stderr[-3000:]
    err = proc.stderr
    assert 'The checkpoint ends epoch 2 in stage s2 (epoch 1 of its 1' in err
    assert 'in stage s1 (epoch 2 of 2)' in err
    assert 'Traceback' not in err
    # longer later stages are fine: S3 grows from 1 to 2 epochs
    proc = run_tool(['tools/train.py', MST_CFG, '--work-dir', work,
                     '--resume', ckpt, '--cfg-options',
                     'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
                     'train_cfg.s3_epochs=2', *opts])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert torch.load(osp.join(work, 's3_end.pth'), map_location='cpu',
                      weights_only=True)['meta']['epoch'] == 4


def test_resume_without_a_checkpoint(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'work')
    args = [MEMBER_CFG, '--work-dir', work, '--cfg-options',
            'train_cfg.max_epochs=1', *data_options(tiny_avdigits)]
    proc = run_tool(['tools/train.py', *args, '--resume',
                     str(tmp_path / 'missing.pth')])
    assert proc.returncode == 2
    assert 'missing.pth: no such checkpoint file' in proc.stderr
    assert 'Traceback' not in proc.stderr
    # --resume on an empty work dir says so and trains from scratch
    proc = run_tool(['tools/train.py', *args, '--resume'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert f'--resume: no checkpoint in {work}' in log
    assert 'latest checkpoint None' not in log
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))


def test_truncated_or_empty_checkpoint_names_the_file(tiny_avdigits,
                                                      tmp_path):
    work = str(tmp_path / 'work')
    args = [MEMBER_CFG, '--work-dir', work, '--cfg-options',
            'train_cfg.max_epochs=1', *data_options(tiny_avdigits)]
    assert run_tool(['tools/train.py', *args]).returncode == 0
    data = open(osp.join(work, 'epoch_1.pth'), 'rb').read()
    for name, content in (('truncated.pth', data[:len(data) // 2]),
                          ('empty.pth', b''), ('text.pth', b'hello')):
        path = str(tmp_path / name)
        with open(path, 'wb') as f:
            f.write(content)
        proc = run_tool(['tools/train.py', *args, '--resume', path])
        assert proc.returncode == 2, (name, proc.stderr[-2000:])
        assert f'{path} is not a readable checkpoint' in proc.stderr
        assert 'Traceback' not in proc.stderr
