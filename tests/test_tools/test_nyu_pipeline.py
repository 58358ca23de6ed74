"""NYU-Depth-V2 end to end, as a user runs it: a tiny .mat in the release's
HDF5 layout is converted, `tools/train.py configs/mst/mst_nyu_rgb.py` runs
S1 -> S2 -> S3 on CPU, and `tools/test.py` reports mIoU/OA/AA equal to a
direct confusion-matrix computation (and draws predictions)."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch

from tests.helpers import REPO, run_tool
from tests.nyu_data import make_nyu_root

CFG = 'configs/mst/mst_nyu_rgb.py'
TINY = '(4,8,8,16,16)'  # FuseNet widths for a CPU test (paper: 64..512)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _ok(result):
    assert result.returncode == 0, (result.stdout[-4000:] +
                                    result.stderr[-4000:])
    return result.stdout + result.stderr


def nyu_options(root):
    opts = []
    for loader in LOADERS:
        opts += [f'{loader}.dataset.data_root={root}',
                 f'{loader}.num_workers=0', f'{loader}.batch_size=2']
    for member in ('mm', 'rgb', 'depth'):
        opts.append(f'model.members.{member}.channels={TINY}')
    return opts


@pytest.fixture(scope='module')
def nyu_root(tmp_path_factory):
    return make_nyu_root(str(tmp_path_factory.mktemp('nyu')), n=10, h=32,
                         w=32)


def _direct_metrics(cfg_opts, ckpt, num_classes=40, config=CFG,
                    release=False):
    """Confusion matrix of the checkpoint's student on the test split.
    ``release``: the release's label space and metric (41 outputs, void = 0;
    only pixels labelled *and* predicted in 1..40 count)."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from mstkd.registry import DATASETS, MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.merge_from_dict(dict(o.split('=', 1) for o in cfg_opts
                             if not o.startswith('model.')))
    for member in ('mm', 'rgb', 'depth'):
        cfg.model.members[member].channels = (4, 8, 8, 16, 16)
    model = MODELS.build(cfg.model)
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    model.load_state_dict(state, strict=False)
    model.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    cm = np.zeros((num_classes, num_classes), np.int64)
    with torch.no_grad():
        for i in range(len(dataset)):
            data = model.data_preprocessor(pseudo_collate([dataset[i]]),
                                           False)
            logits = model.members['rgb'](data['inputs'])
            h, w = data['data_samples'][0].ori_shape
            pred = logits[0].argmax(0)[:h, :w].numpy()
            gt = data['data_samples'][0].gt_sem_seg.data[0, :h, :w].numpy()
            valid = (gt != 0) & (pred != 0) if release else gt != 255
            np.add.at(cm, (gt[valid], pred[valid]), 1)
    if release:  # scikit-learn's confusion_matrix(labels=1..40)
        cm = cm[1:, 1:]
    tp = np.diag(cm).astype(float)
    gt_n, pred_n = cm.sum(1), cm.sum(0)
    union = gt_n + pred_n - tp
    return dict(OA=tp.sum() / cm.sum(),
                AA=(tp[gt_n > 0] / gt_n[gt_n > 0]).mean(),
                mIoU=(tp[union > 0] / union[union > 0]).mean())


def test_mst_nyu_rgb_train_and_test(nyu_root, tmp_path):
    work = str(tmp_path / 'work')
    opts = nyu_options(nyu_root)
    log = _ok(run_tool([
        'tools/train.py', CFG, '--work-dir', work, '--cfg-options',
        'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
        'train_cfg.s3_epochs=1', *opts]))
    for stage in ('s1', 's2', 's3'):
        assert osp.isfile(osp.join(work, f'{stage}_end.pth')), stage
    assert 'MaskNets: mm:bottleneck (d=16), mm:decoder.block1' in log
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    assert len(best) == 1

    out = str(tmp_path / 'metrics.json')
    show = str(tmp_path / 'show')
    log = _ok(run_tool([
        'tools/test.py', CFG, best[0], '--out', out, '--show-dir', show,
        '--work-dir', str(tmp_path / 'test'), '--cfg-options', *opts]))
    metrics = json.load(open(out))
    assert {'mIoU', 'aAcc', 'mAcc', 'OA', 'AA', 'CE'} <= set(metrics)
    assert 'per class results' in log and 'wall' in log  # per-class table
    ref = _direct_metrics(opts, best[0])
    assert metrics['OA'] == pytest.approx(ref['OA'], abs=1e-9)
    assert metrics['AA'] == pytest.approx(ref['AA'], abs=1e-9)
    assert metrics['mIoU_frac'] == pytest.approx(ref['mIoU'], abs=1e-9)
    assert metrics['mIoU'] == pytest.approx(100 * ref['mIoU'], abs=0.006)
    drawn = glob.glob(osp.join(show, '**', '*.png'), recursive=True)
    assert len(drawn) == 2  # one per test image (n=10 -> 2 test images)


def test_release_label_space_41_outputs(nyu_root, tmp_path):
    """configs/mst/ablations/mst_nyu_rgb_reference.py: 41 outputs with void
    = class 0 (CE ignores it, the KL terms cover it), and the release's
    metric, which drops pixels predicted as void."""
    config = 'configs/mst/ablations/mst_nyu_rgb_reference.py'
    work = str(tmp_path / 'work')
    opts = nyu_options(nyu_root)
    _ok(run_tool([
        'tools/train.py', config, '--work-dir', work, '--cfg-options',
        'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
        'train_cfg.s3_epochs=1', *opts]))
    ckpt = osp.join(work, 's3_end.pth')
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    heads = [v for k, v in state.items()
             if k.startswith('members.rgb.') and v.ndim == 4]
    assert heads[-1].shape[0] == 41  # the classifier: void + 40 classes

    out = str(tmp_path / 'metrics.json')
    _ok(run_tool(['tools/test.py', config, ckpt, '--out', out,
                  '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                  *opts]))
    metrics = json.load(open(out))
    ref = _direct_metrics(opts, ckpt, 41, config, release=True)
    assert metrics['OA'] == pytest.approx(ref['OA'], abs=1e-9)
    assert metrics['AA'] == pytest.approx(ref['AA'], abs=1e-9)
    assert metrics['mIoU_frac'] == pytest.approx(ref['mIoU'], abs=1e-9)


def test_missing_data_explains_how_to_get_it(tmp_path):
    missing = str(tmp_path / 'nowhere')
    result = run_tool([
        'tools/train.py', CFG, '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', *[f'{l}.dataset.data_root={missing}'
                           for l in LOADERS]])
    assert result.returncode != 0
    err = result.stderr
    assert 'Traceback' not in err
    assert missing in err
    assert 'nyu_depth_v2.py' in err  # the converter to run


def test_init_weights_reaches_the_members():
    """The Runner's init_weights() must initialise every FuseNet member
    (VGG16 checkpoint or MSRA init), not leave PyTorch's defaults."""
    from mmengine.config import Config

    from mstkd.registry import MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(osp.join(REPO, CFG))
    for member in ('mm', 'rgb', 'depth'):
        cfg.model.members[member].channels = (4, 8, 8, 16, 16)
    model = MODELS.build(cfg.model)
    assert not any(m.is_init for m in model.members.values())
    model.init_weights()
    assert all(m.is_init for m in model.members.values())


def test_dist_train_mst_nyu_two_processes_on_cpu(nyu_root, tmp_path):
    """`tools/dist_train.sh configs/mst/mst_nyu_rgb.py 2` through the three
    stages (gloo + the CPU DDP wrapper, re-wrapped per stage)."""
    import socket
    import sys
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = str(s.getsockname()[1])
    work = str(tmp_path / 'dist')
    log = _ok(run_tool(
        ['bash', 'tools/dist_train.sh', CFG, '2', '--work-dir', work,
         '--cfg-options', 'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
         'train_cfg.s3_epochs=1', *nyu_options(nyu_root)],
        env=dict(PYTHON=sys.executable, PORT=port)))
    assert 'gloo' in log
    # BatchNorm statistics synced from rank 0 at each stage end, then the
    # whole state dict compared across the ranks
    for stage in ('s1', 's2', 's3'):
        assert f'{stage}: weights identical on all 2 ranks' in log
    ckpt = torch.load(osp.join(work, 's3_end.pth'), map_location='cpu')
    # 6 training images, 2 processes x batch 2 -> 2 iterations per epoch
    assert ckpt['meta']['epoch'] == 3 and ckpt['meta']['iter'] == 6
    # (a slim S3 checkpoint: the MaskNets are s2_end.pth's, read back)
    from mstkd.utils.checkpoint import load_full_state_dict
    assert any(k.startswith('masknets.mm__bottleneck') for k in
               load_full_state_dict(osp.join(work, 's3_end.pth')))
