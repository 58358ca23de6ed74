"""tools/train.py, tools/test.py, --resume and error messages, as a user
runs them."""
import glob
import json
import os.path as osp
import socket

import numpy as np
import pytest
import torch

from tests.helpers import data_options, run_tool

IMAGE_CFG = 'configs/members/avdigits_image.py'


def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


def test_train_test_resume(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'work')
    opts = data_options(tiny_avdigits)
    _ok(run_tool(['tools/train.py', IMAGE_CFG, '--work-dir', work,
                  '--cfg-options', 'train_cfg.max_epochs=2', *opts]))
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    assert len(best) == 1

    out = str(tmp_path / 'm.json')
    log = _ok(run_tool(['tools/test.py', IMAGE_CFG, best[0], '--out', out,
                        '--work-dir', str(tmp_path / 'test'),
                        '--cfg-options', *opts]))
    metrics = json.load(open(out))
    assert set(metrics) == {'OA', 'AA', 'F1', 'kappa', 'CE'}
    assert 'OA' in log and 'kappa' in log

    # The reported OA equals a direct computation with the checkpoint.
    from mmengine.config import Config
    from mstkd.datasets import AVDigitsDataset
    from mstkd.registry import MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(IMAGE_CFG)
    model = MODELS.build(cfg.model)
    state = torch.load(best[0], map_location='cpu')['state_dict']
    model.load_state_dict(state)
    model.eval()
    test = AVDigitsDataset(data_file=tiny_avdigits, split='test',
                           modalities=('image', ), n_mels=64, n_frames=64)
    with torch.no_grad():
        pred = model(test.data).argmax(1)
    oa = (pred == test.labels).double().mean().item()
    assert metrics['OA'] == pytest.approx(oa, abs=1e-9)
    per_class = [(pred[test.labels == c] == c).double().mean().item()
                 for c in test.labels.unique()]
    assert metrics['AA'] == pytest.approx(np.mean(per_class), abs=1e-9)

    # --resume continues from the latest checkpoint of the work dir.
    log = _ok(run_tool(['tools/train.py', IMAGE_CFG, '--work-dir', work,
                        '--resume', '--cfg-options',
                        'train_cfg.max_epochs=3', *opts]))
    assert 'resumed epoch: 2' in log
    assert osp.isfile(osp.join(work, 'epoch_3.pth'))


def test_clear_errors_without_traceback(tmp_path):
    res = run_tool(['tools/train.py', IMAGE_CFG, '--work-dir',
                    str(tmp_path), '--cfg-options',
                    *data_options(str(tmp_path / 'missing.npz'))])
    assert res.returncode == 2
    assert 'AV-Digits file not found' in res.stderr
    assert 'missing.npz' in res.stderr and 'Traceback' not in res.stderr

    res = run_tool(['tools/train.py', 'configs/mst/mst_avdigits_image.py',
                    '--work-dir', str(tmp_path), '--cfg-options',
                    'model.teachers.audio=[conv9]'])
    assert res.returncode == 2 and 'Traceback' not in res.stderr
    assert 'conv9' in res.stderr and 'conv2' in res.stderr

    from mstkd.engine.optimizers import cpu_bf16_supported
    if not torch.cuda.is_available() and not cpu_bf16_supported():
        res = run_tool(['tools/train.py', IMAGE_CFG, '--amp', '--work-dir',
                        str(tmp_path)])
        assert res.returncode == 2 and 'no native bfloat16' in res.stderr

    res = run_tool(['tools/test.py', IMAGE_CFG, str(tmp_path / 'x.pth')])
    assert res.returncode == 2 and 'Checkpoint not found' in res.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def test_dist_train_two_processes_on_cpu(tiny_avdigits, tmp_path):
    import sys
    work = str(tmp_path / 'dist')
    log = _ok(run_tool(
        ['bash', 'tools/dist_train.sh', IMAGE_CFG, '2', '--work-dir', work,
         '--cfg-options', 'train_cfg.max_epochs=1',
         *data_options(tiny_avdigits)],
        env=dict(PYTHON=sys.executable, PORT=_free_port())))
    assert 'gloo' in log
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    ckpt = torch.load(osp.join(work, 'epoch_1.pth'), map_location='cpu')
    # 120 training samples, 2 processes x batch 32 -> 2 iterations
    assert ckpt['meta']['iter'] == 2

    # dist_test.sh: the metrics of 2 processes equal those of one
    outs = [str(tmp_path / 'dist.json'), str(tmp_path / 'single.json')]
    _ok(run_tool(
        ['bash', 'tools/dist_test.sh', IMAGE_CFG,
         osp.join(work, 'epoch_1.pth'), '2', '--out', outs[0],
         '--work-dir', str(tmp_path / 'dt'), '--cfg-options',
         *data_options(tiny_avdigits)],
        env=dict(PYTHON=sys.executable, PORT=_free_port())))
    _ok(run_tool(['tools/test.py', IMAGE_CFG, osp.join(work, 'epoch_1.pth'),
                  '--out', outs[1], '--work-dir', str(tmp_path / 'st'),
                  '--cfg-options', *data_options(tiny_avdigits)]))
    dist, single = (json.load(open(o)) for o in outs)
    assert dist == pytest.approx(single, abs=1e-6)


def test_two_processes_at_half_batch_equal_one_process(tiny_avdigits,
                                                        tmp_path):
    """DDP averages the gradients of 2 x 16 samples; DefaultSampler gives
    the ranks the even / odd positions of one permutation: the same batches
    as one process at 32, so the same weights up to float rounding."""
    import sys
    opts = ['train_cfg.max_epochs=2',
            'default_hooks.checkpoint.max_keep_ckpts=2',
            *data_options(tiny_avdigits)]
    half = [o.replace('batch_size=32', 'batch_size=16') for o in opts]
    _ok(run_tool(
        ['bash', 'tools/dist_train.sh', IMAGE_CFG, '2', '--work-dir',
         str(tmp_path / 'two'), '--cfg-options', *half],
        env=dict(PYTHON=sys.executable, PORT=_free_port())))
    _ok(run_tool(['tools/train.py', IMAGE_CFG, '--work-dir',
                  str(tmp_path / 'one'), '--cfg-options', *opts]))
    two, one = (torch.load(str(tmp_path / d / 'epoch_2.pth'),
                           map_location='cpu')['state_dict']
                for d in ('two', 'one'))
    assert set(two) == set(one)
    for key, value in one.items():
        torch.testing.assert_close(two[key], value, rtol=1e-4, atol=1e-5,
                                   msg=key)
    moved = max(float((one[k] - start).abs().max()) for k, start in
                torch.load(str(tmp_path / 'one' / 'epoch_1.pth'),
                           map_location='cpu')['state_dict'].items())
    assert moved > 1e-3  # epoch 2 trained: the comparison is not vacuous


def test_dist_train_mst_three_stages_on_cpu(tiny_avdigits, tmp_path):
    """2 processes at batch 32 train the MST run of one process at batch 64:
    every stage end holds the same members, MaskNets and gate (S3's load
    balance is on the global batch: per process, the gate differed by
    2.6e-5 after these 8 S3 steps), and every epoch validates the student
    alike."""
    import sys

    from mstkd.utils.checkpoint import load_full_state_dict
    work, one = str(tmp_path / 'dist_mst'), str(tmp_path / 'one_mst')
    opts = ['train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
            'train_cfg.s3_epochs=4', 'model.masknet.projector=light',
            *data_options(tiny_avdigits)]
    log = _ok(run_tool(
        ['bash', 'tools/dist_train.sh', 'configs/mst/mst_avdigits_image.py',
         '2', '--work-dir', work, '--cfg-options', *opts],
        env=dict(PYTHON=sys.executable, PORT=_free_port())))
    _ok(run_tool(['tools/train.py', 'configs/mst/mst_avdigits_image.py',
                  '--work-dir', one, '--cfg-options',
                  *[o.replace('batch_size=32', 'batch_size=64')
                    for o in opts]]))
    for stage in ('s1', 's2', 's3'):
        assert osp.isfile(osp.join(work, f'{stage}_end.pth'))
        # members, MaskNets and gate compared across the ranks
        assert f'{stage}: weights identical on all 2 ranks' in log
        two_w, one_w = (load_full_state_dict(osp.join(d, f'{stage}_end.pth'))
                        for d in (work, one))
        assert set(two_w) == set(one_w)
        for key, value in one_w.items():
            torch.testing.assert_close(two_w[key], value, rtol=1e-4,
                                       atol=2e-6, msg=f'{stage}: {key}')
    start = load_full_state_dict(osp.join(one, 's2_end.pth'))
    assert max(float((one_w[k] - start[k]).abs().max())
               for k in one_w if k.startswith('gate.')) > 1e-4  # S3 moved it
    assert 'Routing (epoch 6)' in log
    # the student's validation metrics, epoch by epoch
    two_m, one_m = ([json.loads(line) for line in open(glob.glob(
        osp.join(d, '*', 'vis_data', 'scalars.json'))[0]) if '"OA"' in line]
        for d in (work, one))
    assert len(two_m) == len(one_m) == 6
    for a, b in zip(two_m, one_m):
        assert a['step'] == b['step']
        for metric in ('OA', 'AA', 'F1', 'kappa', 'CE'):
            assert a[metric] == pytest.approx(b[metric], rel=1e-5)
    # DDP is re-wrapped per stage: both ranks end with identical students
    ckpt = torch.load(osp.join(work, 's3_end.pth'), map_location='cpu')
    assert ckpt['meta']['epoch'] == 6 and ckpt['meta']['iter'] == 12
