"""The plotting tools on one tiny three-stage MST-Distill run:
plot_routing.py (Fig. 4), plot_curves.py, confusion_matrix.py."""
import glob
import json
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from tests.helpers import data_options, run_tool

MST_CFG = 'configs/mst/mst_avdigits_image.py'
TEACHERS = ['mm:fusion.concat', 'mm:fusion.fc1', 'audio:conv2',
            'audio:conv3']


def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


@pytest.fixture(scope='module')
def run(tiny_avdigits, tmp_path_factory):
    """A finished run: S1 and S2 one epoch each, S3 epochs 3-4."""
    root = tmp_path_factory.mktemp('plots')
    work = str(root / 'mst')
    opts = data_options(tiny_avdigits) + [
        'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
        'train_cfg.s3_epochs=2', 'model.masknet.projector=light']
    _ok(run_tool(['tools/train.py', MST_CFG, '--work-dir', work,
                  '--cfg-options', *opts]))
    return dict(work=work, opts=opts, root=root)


def _png(path, size):
    """The PNG decodes, has the expected (width, height) and is not
    blank: pixel std > 0 and more than one colour (beyond black/white)."""
    assert osp.isfile(path), path
    image = cv2.imread(path)
    assert image is not None, f'{path} does not decode'
    assert (image.shape[1], image.shape[0]) == size
    assert image.std() > 0
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 10
    # coloured pixels, not only greys (the curves are drawn in colour)
    assert (image.max(2).astype(int) - image.min(2) > 60).any()
    return image


def _test_labels(opts):
    """The test split's labels, from the config's test dataset."""
    from mmengine.config import Config, DictAction

    from mstkd.registry import DATASETS
    from mstkd.utils import register_all_modules
    from tests.helpers import REPO
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(osp.join(REPO, MST_CFG))
    cfg.merge_from_dict({
        k: DictAction._parse_iterable(v)
        for k, v in (o.split('=', 1) for o in opts)})
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    return np.array([int(dataset[i]['data_samples']['gt_label'])
                     for i in range(len(dataset))])


def test_plot_routing(run):
    work = run['work']
    out = _ok(run_tool(['tools/analysis_tools/plot_routing.py', work]))
    png = osp.join(work, 'routing.png')
    assert png in out
    # (a) probability, (b) top-k share, (c) entropy and best-CE share
    _png(png, (1700, 450))
    # the same image through mmengine's visualizer (LocalVisBackend)
    _png(osp.join(work, 'vis_data', 'vis_image', 'routing_0.png'),
         (1700, 450))
    data = json.load(open(osp.join(work, 'routing.json')))
    assert data['epochs'] == [3, 4]  # the S3 epochs
    assert list(data['teachers']) == TEACHERS
    kinds = {k: v['kind'] for k, v in data['teachers'].items()}
    assert kinds == {'mm:fusion.concat': 'multimodal',
                     'mm:fusion.fc1': 'multimodal',
                     'audio:conv2': 'cross-modal',
                     'audio:conv3': 'cross-modal'}
    # the logged numbers, as RoutingStatsHook wrote them
    rows = [json.loads(line) for path in glob.glob(
        osp.join(work, '*', 'vis_data', 'scalars.json')) for line in
        open(path)]
    routing = [r for r in rows if 'routing/prob/mm:fusion.concat' in r]
    for i, row in enumerate(routing):
        for name in TEACHERS:
            info = data['teachers'][name]
            assert info['prob'][i] == row[f'routing/prob/{name}']
            assert info['topk'][i] == row[f'routing/topk/{name}']
        assert sum(data['teachers'][n]['prob'][i] for n in TEACHERS) == \
            pytest.approx(1.0, abs=1e-5)
        assert data['entropy'][i] == row['routing/entropy']
        assert 0 <= data['entropy'][i] <= np.log(len(TEACHERS)) + 1e-6
        assert data['best_ce_share'][i] == row['routing/best_ce_share']
    assert len(data['lambda1']) == len(data['lambda2']) == 2

    other = str(run['root'] / 'fig4.png')
    _ok(run_tool(['tools/analysis_tools/plot_routing.py', work, '--out',
                  other, '--no-visualizer']))
    _png(other, (1700, 450))


def test_plot_routing_without_routing_stats(run, tmp_path):
    """A work dir whose scalars have no routing rows (S1/S2 only): exit 2
    with one line naming the work dir and what was expected."""
    work = str(tmp_path / 'no_routing')
    src = glob.glob(osp.join(run['work'], '*', 'vis_data'))[0]
    dst = osp.join(work, osp.basename(osp.dirname(src)), 'vis_data')
    shutil.copytree(src, dst)
    scalars = osp.join(dst, 'scalars.json')
    lines = [line for line in open(scalars) if 'routing/' not in line]
    open(scalars, 'w').writelines(lines)
    result = run_tool(['tools/analysis_tools/plot_routing.py', work])
    assert result.returncode == 2, result.stderr
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and 'Traceback' not in result.stderr
    assert err[0].startswith('error: ') and work in err[0]
    assert 'routing/prob/<teacher:layer>' in err[0]
    assert not glob.glob(osp.join(work, '*.png'))

    missing = str(tmp_path / 'missing')
    result = run_tool(['tools/analysis_tools/plot_routing.py', missing])
    assert result.returncode == 2
    assert result.stderr.strip() == f'error: work dir not found: {missing}'


def test_plot_curves(run):
    work = run['work']
    out = _ok(run_tool(['tools/analysis_tools/plot_curves.py', work]))
    png = osp.join(work, 'curves.png')
    assert png in out and 'S1 (epochs 1-1), S2 (epochs 2-2), S3 ' \
        '(epochs 3-4)' in out
    _png(png, (450 * 4, 400))  # S1, S2, S3 + validation panels
    _png(osp.join(work, 'vis_data', 'vis_image', 'curves_0.png'),
         (1800, 400))
    data = json.load(open(osp.join(work, 'curves.json')))
    assert [(s['label'], s['first_epoch'], s['epochs'])
            for s in data['stages']] == [('S1', 1, 1), ('S2', 2, 1),
                                         ('S3', 3, 2)]
    assert data['stages'][2]['title'] == 'S3 dynamic knowledge distillation'
    train = data['train']
    # every loss term, in the epochs of its stage (JSON keys are strings)
    assert set(train['loss']) == {'1', '2', '3', '4'}
    for key in ('loss_ce_mm', 'loss_ce_image', 'loss_ce_audio',
                'loss_align'):
        assert set(train[key]) == {'1'}
    for name in ('mm__fusion_concat', 'mm__fusion_fc1', 'audio__conv2',
                 'audio__conv3'):
        assert set(train[f'loss_mask_{name}']) == {'2'}
    for key in ('loss_ce', 'loss_routed_kd', 'loss_lb'):
        assert set(train[key]) == {'3', '4'}
    val = data['val']
    for key in ('OA', 'AA', 'F1', 'kappa', 'CE'):
        assert set(val[key]) == {'1', '2', '3', '4'}
    assert set(val['val/masknet_kl/audio:conv2']) == {'2'}


def test_confusion_matrix_matches_test_tool(run):
    work, opts = run['work'], run['opts']
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    assert len(best) == 1
    png = str(run['root'] / 'cm' / 'confusion.png')
    out = _ok(run_tool(['tools/analysis_tools/confusion_matrix.py', MST_CFG,
                        best[0], '--out', png, '--cfg-options', *opts]))
    assert png in out
    _png(png, (700, 600))
    data = json.load(open(osp.splitext(png)[0] + '.json'))
    assert {'classes', 'counts', 'num_samples', 'OA', 'per_class_acc',
            'config', 'checkpoint'} <= set(data)
    counts = np.array(data['counts'])
    assert counts.shape == (10, 10)
    assert data['classes'] == [str(i) for i in range(10)]
    # rows = true class: the row sums are the test split's class counts
    labels = _test_labels(opts)
    assert counts.sum() == data['num_samples'] == len(labels) > 0
    assert counts.sum(1).tolist() == np.bincount(labels, minlength=10
                                                 ).tolist()

    metrics = str(run['root'] / 'm.json')
    _ok(run_tool(['tools/test.py', MST_CFG, best[0], '--out', metrics,
                  '--work-dir', str(run['root'] / 't'), '--cfg-options',
                  *opts]))
    oa = json.load(open(metrics))['OA']
    assert np.trace(counts) / counts.sum() == pytest.approx(oa, abs=1e-12)
    assert data['OA'] == pytest.approx(oa, abs=1e-12)


def test_scalars_of_a_resumed_run_and_stage_plans(tmp_path):
    """A later timestamp folder replaces the epochs it logs again; the
    stage plan of each loop type; multimodal vs cross-modal teachers."""
    from mmengine.config import Config

    from mstkd.visualization.plots import (load_scalars, stage_plan,
                                           teacher_kind)

    def write(stamp, rows):
        folder = tmp_path / stamp / 'vis_data'
        folder.mkdir(parents=True)
        (folder / 'scalars.json').write_text(
            ''.join(json.dumps(r) + '\n' for r in rows))

    write('20240101_000000', [
        dict(loss=3.0, epoch=1, iter=2, step=2), dict(OA=0.1, step=1),
        dict(loss=2.0, epoch=2, iter=4, step=4), dict(OA=0.2, step=2),
        dict(loss=9.0, epoch=3, iter=5, step=5)])  # killed in epoch 3
    write('20240101_010000', [  # resumed from epoch 2's checkpoint
        dict(loss=1.5, epoch=3, iter=6, step=6),
        dict(loss=0.5, epoch=3, iter=7, step=7), dict(OA=0.3, step=3)])
    scalars = load_scalars(str(tmp_path))
    assert scalars['train'] == {1: dict(loss=[3.0]), 2: dict(loss=[2.0]),
                                3: dict(loss=[1.5, 0.5])}
    assert scalars['val'] == {1: dict(OA=0.1), 2: dict(OA=0.2),
                              3: dict(OA=0.3)}

    assert list(stage_plan(Config(dict(train_cfg=dict(
        s1_epochs=2, s2_epochs=0, s3_epochs=3)))).items()) == \
        [('s1', 2), ('s3', 3)]  # a 0-epoch stage is skipped
    assert list(stage_plan(Config(dict(train_cfg=dict(
        stages=dict(hint=5, kd=dict(epochs=7)))))).items()) == \
        [('hint', 5), ('kd', 7)]
    assert list(stage_plan(Config(dict(train_cfg=dict(
        max_epochs=4)))).items()) == [('train', 4)]
    cfg = Config(dict(model=dict(members=dict(
        mm=dict(type='LateFusionNet'), depth=dict(modality='depth')))))
    assert teacher_kind(cfg, 'mm:bottleneck') == 'multimodal'
    assert teacher_kind(cfg, 'depth:decoder.block1') == 'cross-modal'
    assert teacher_kind(None, 'mm:fusion.fc1') == 'multimodal'
