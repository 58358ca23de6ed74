import json
import os
import os.path as osp
import socket
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch

from mstkd.apis import find_best_checkpoint, format_table, summarize
from mstkd.apis.seeds import TOOLS, parse_seeds, run_seeds, train_command
from mstkd.utils.errors import UserInputError
from tests.helpers import REPO, data_options, direct_oa, run_tool

CFG = 'configs/members/avdigits_image.py'


def test_summarize_and_table():
    runs = [dict(OA=0.5, AA=0.4), dict(OA=0.7, AA=0.6), dict(OA=0.6, AA=0.5)]
    s = summarize(runs)
    assert s['OA'][0] == pytest.approx(0.6)
    assert s['OA'][1] == pytest.approx(np.std([0.5, 0.7, 0.6], ddof=1))
    assert s['OA'][2] == 3
    assert summarize(runs[:1])['AA'] == (0.4, 0.0, 1)
    table = format_table({'m': s})
    assert table.splitlines()[2] == '| m | 0.6000 ± 0.1000 | 0.5000 ± 0.1000 | 3 |'


def test_parse_seeds_and_best_checkpoint(tmp_path):
    assert parse_seeds('0-4') == [0, 1, 2, 3, 4]
    assert parse_seeds('3,1') == [3, 1]
    with pytest.raises(FileNotFoundError, match='best_CE'):
        find_best_checkpoint(str(tmp_path))
    (tmp_path / 'best_CE_epoch_7.pth').write_bytes(b'x')
    assert find_best_checkpoint(str(tmp_path)).endswith('best_CE_epoch_7.pth')


# Launchers: tools/train.py, tools/dist_train.sh, tools/slurm_train.sh.
def test_train_command_per_launcher():
    extra = ['--cfg-options', 'a=1']
    cmd, env = train_command(CFG, 'W/seed_3', 3, extra, python='PY')
    assert cmd == ['PY', osp.join(TOOLS, 'train.py'), CFG, '--work-dir',
                   'W/seed_3', '--seed', '3', '--cfg-options', 'a=1']
    assert env == {}

    cmd, env = train_command(CFG, 'W/seed_3', 3, extra, launcher='pytorch',
                             gpus=4, python='PY')
    # dist_train.sh CONFIG GPUS [ARGS]
    assert cmd == ['bash', osp.join(TOOLS, 'dist_train.sh'), CFG, '4',
                   '--work-dir', 'W/seed_3', '--seed', '3', '--cfg-options',
                   'a=1']
    assert env == dict(PYTHON='PY')

    cmd, env = train_command(CFG, 'W/seed_3', 3, extra, launcher='slurm',
                             gpus=2, partition='gpu', python='PY')
    # slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [ARGS]
    assert cmd == ['bash', osp.join(TOOLS, 'slurm_train.sh'), 'gpu',
                   'avdigits_image_seed3', CFG, 'W/seed_3', '--seed', '3',
                   '--cfg-options', 'a=1']
    assert env == dict(PYTHON='PY', GPUS='2', GPUS_PER_NODE='2')
    _, env = train_command(CFG, 'W', 0, launcher='slurm', gpus=16,
                           partition='gpu', job_name='j')
    assert env['GPUS'] == '16' and env['GPUS_PER_NODE'] == '4'

    with pytest.raises(UserInputError, match='--partition'):
        train_command(CFG, 'W', 0, launcher='slurm')
    with pytest.raises(UserInputError, match='Unknown launcher "mpi"'):
        train_command(CFG, 'W', 0, launcher='mpi')
    with pytest.raises(UserInputError, match='gpus must be >= 1'):
        train_command(CFG, 'W', 0, launcher='pytorch', gpus=0)


def test_slurm_command_reaches_srun(tmp_path, monkeypatch):
    """slurm_train.sh, run as run_seeds builds it, hands srun the partition,
    job name, task count and train.py's arguments in the right order."""
    fake = tmp_path / 'bin'
    fake.mkdir()
    srun = fake / 'srun'
    record = tmp_path / 'srun_args.json'
    srun.write_text(
        f'#!{sys.executable}\nimport json, sys\n'
        f'json.dump(sys.argv[1:], open({str(record)!r}, "w"))\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    cmd, env = train_command(CFG, 'W/seed_1', 1, ['--cfg-options', 'a=1'],
                             launcher='slurm', gpus=2, partition='part',
                             job_name='job', python='PY')
    env = dict(os.environ, **env, PATH=f'{fake}{os.pathsep}'
               f'{os.environ["PATH"]}')
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    args = json.load(open(record))
    assert args[:6] == ['-p', 'part', '--job-name=job', '--gres=gpu:2',
                        '--ntasks=2', '--ntasks-per-node=2']
    assert args[args.index('PY'):] == [
        'PY', '-u', osp.join(TOOLS, 'train.py'), CFG, '--work-dir=W/seed_1',
        '--launcher=slurm', '--seed', '1', '--cfg-options', 'a=1']

    # run_seeds: {seed} in the job name; the fake srun trains nothing, so
    # looking for the best checkpoint fails after it ran.
    monkeypatch.setenv('PATH', env['PATH'])
    work = tmp_path / 'work'
    with pytest.raises(FileNotFoundError, match='best_CE'):
        run_seeds(CFG, [5], str(work), launcher='slurm', gpus=1,
                  partition='part', job_name='mst_{seed}')
    args = json.load(open(record))
    assert args[:3] == ['-p', 'part', '--job-name=mst_5']
    assert f'--work-dir={work / "seed_5"}' in args


def test_run_seeds_cli_rejects_slurm_without_partition(tmp_path):
    res = run_tool(['tools/analysis_tools/run_seeds.py', CFG, '--seeds', '0',
                    '--work-dir', str(tmp_path), '--launcher', 'slurm'])
    assert res.returncode == 2 and 'Traceback' not in res.stderr
    assert '--partition' in res.stderr
    assert not os.listdir(tmp_path)  # nothing ran


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def test_run_seeds_pytorch_launcher_two_processes(tiny_avdigits, tmp_path,
                                                  monkeypatch):
    monkeypatch.setenv('PORT', _free_port())
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.chdir(REPO)
    opts = ['train_cfg.max_epochs=1', *data_options(tiny_avdigits)]
    results = run_seeds(CFG, [0], str(tmp_path), opts, launcher='pytorch',
                        gpus=2)
    log = open(tmp_path / 'log_seed_0.txt').read()
    assert 'dist_train.sh' in log and 'gloo' in log
    ckpt = torch.load(tmp_path / 'seed_0' / 'epoch_1.pth',
                      map_location='cpu')
    # 120 training samples, 2 processes x batch 32 -> 2 iterations (one
    # process would take 4)
    assert ckpt['meta']['iter'] == 2
    assert results[0]['seed'] == 0
    assert set(results[0]) >= {'OA', 'AA', 'CE'}
    # the OA run_seeds reports is the tested checkpoint's (the best one of
    # the run) on a plain forward pass of the member over the test split
    best = find_best_checkpoint(str(tmp_path / 'seed_0'))
    assert results[0]['OA'] == pytest.approx(
        direct_oa(CFG, best, opts), abs=1e-12)
