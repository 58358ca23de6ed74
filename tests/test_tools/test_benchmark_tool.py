"""tools/analysis_tools/benchmark.py: a two-row table (w/o KD and KD with
an MM teacher) over two seeds on the AV-Digits fixture; teachers trained
once per seed and shared; the cells equal the per-run tests; a second call
runs nothing; a bad spec is one line."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mstkd.apis.benchmark import budget_options, total_epochs
from tests.helpers import REPO, data_options, run_tool


def _spec(tmp_path, npz, extra=''):
    opts = data_options(npz)
    path = tmp_path / 'spec.py'
    path.write_text(f"""
title = 'tiny'
columns = dict(image='AV-Digits image')
seeds = [0, 1]
epochs = 2
metrics = ['OA', 'AA']
options = {opts!r}
teacher_options = ['train_cfg.max_epochs=1']
rows = [
    dict(paradigm='-', method='w/o KD', tconfig='-', baseline=True,
         cells=dict(image='configs/members/avdigits_image.py')),
    dict(paradigm='Response-Based', method='KD', tconfig='MM',
         cells=dict(image='configs/baselines/kd/kd_avdigits_image_mm.py')),
]
{extra}""")
    return str(path)


def test_budget_is_split_over_the_stages():
    def cfg(path):
        return Config.fromfile(osp.join(REPO, path))

    kd = cfg('configs/baselines/kd/kd_avdigits_image_mm.py')
    assert budget_options(kd, 10) == ['train_cfg.max_epochs=10']
    fitnets = cfg('configs/baselines/fitnets/fitnets_avdigits_image_mm.py')
    assert budget_options(fitnets, 11) == ['train_cfg.stages.hint=5',
                                           'train_cfg.stages.kd=6']
    mst = cfg('configs/mst/mst_avdigits_image.py')
    opts = budget_options(mst, 10)
    assert opts == ['train_cfg.s1_epochs=5', 'train_cfg.s3_epochs=5']
    # S2 keeps its length: the student trains 5 + 5, the run 5 + 2 + 5
    assert total_epochs(mst, opts) == 5 + mst.train_cfg.s2_epochs + 5
    assert total_epochs(kd, budget_options(kd, 7)) == 7


def test_benchmark_table_over_seeds_resumes(tiny_avdigits, tmp_path):
    spec = _spec(tmp_path, tiny_avdigits)
    work = str(tmp_path / 'bench')
    args = ['tools/analysis_tools/benchmark.py', spec, '--work-dir', work,
            '--jobs', '2']
    first = run_tool(args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert '2 teacher runs, 4 cell runs, 6 to do' in first.stdout
    table = json.load(open(osp.join(work, 'table.json')))
    base, kd = table['rows']
    # every cell is the mean / sample std of its runs' tools/test.py output
    for row, run_dir in ((base, 'avdigits_image_'), (kd, 'kd_avdigits')):
        for key in ('CE', 'OA'):
            cell = row['cells']['image'][key]['OA']
            runs = sorted(osp.join(work, 'runs', d) for d in
                          os.listdir(osp.join(work, 'runs'))
                          if d.startswith(run_dir))
            assert len(runs) == 1
            vals = [json.load(open(osp.join(
                runs[0], f'seed_{s}', f'test_{key}.json')))['OA']
                for s in (0, 1)]
            assert cell['n'] == 2
            assert cell['mean'] == pytest.approx(np.mean(vals), abs=1e-12)
            assert cell['std'] == pytest.approx(np.std(vals, ddof=1),
                                                abs=1e-12)
    # KD's runs read the teacher of their seed, trained once
    kd_dir, = [d for d in os.listdir(osp.join(work, 'runs'))
               if d.startswith('kd_avdigits')]
    for seed in (0, 1):
        result = json.load(open(osp.join(work, 'runs', kd_dir,
                                         f'seed_{seed}', 'result.json')))
        teacher = osp.join(work, 'teachers', 'avdigits_fusion',
                           f'seed_{seed}')
        assert f'model.pretrained.mm.checkpoint={teacher}' in \
            result['options']
        assert result['epochs'] == 2 and result['best_epoch_CE'] in (1, 2)
        assert osp.isfile(osp.join(teacher, 'result.json'))
    # marks: ranks 1 and 2 in the column, the gain against the baseline
    ce = [r['cells']['image']['CE']['OA'] for r in (base, kd)]
    ranks = sorted(c['rank'] for c in ce)
    assert ranks == [1, 2]
    assert ce[1]['gain'] == pytest.approx(ce[1]['mean'] - ce[0]['mean'])
    md = open(osp.join(work, 'table.md')).read()
    assert '| Response-Based | KD | MM |' in md
    assert f"{ce[1]['mean']:.4f} ± {ce[1]['std']:.4f} (2)" in md

    again = run_tool(args)
    assert again.returncode == 0
    assert '6 to do' not in again.stdout and '0 to do' in again.stdout
    assert json.load(open(osp.join(work, 'table.json'))) == table


def test_bad_spec_is_one_line(tiny_avdigits, tmp_path):
    spec = _spec(tmp_path, tiny_avdigits, extra="""
rows.append(dict(method='X', cells=dict(image='configs/nope.py')))""")
    result = run_tool(['tools/analysis_tools/benchmark.py', spec,
                       '--work-dir', str(tmp_path / 'w'), '--dry-run'])
    assert result.returncode == 2
    assert "column image: config 'configs/nope.py' does not exist" in \
        result.stderr
    assert 'Traceback' not in result.stderr


def test_a_cell_that_is_a_teacher_run_is_trained_once(tmp_path):
    """The w/o KD image cell and the image teacher of KD (CM, audio
    student) are the same training at the configs' own length: one run,
    in the teacher list; with another length they are two."""
    from mstkd.apis.benchmark import plan
    spec = tmp_path / 'spec.py'
    spec.write_text("""
columns = dict(image='image', audio='audio')
rows = [dict(method='w/o KD', cells=dict(
            image='configs/members/avdigits_image.py')),
        dict(method='KD', cells=dict(
            audio='configs/baselines/kd/kd_avdigits_audio_cm.py'))]
""")
    cfg = Config.fromfile(str(spec))
    teachers, runs, cells = plan(cfg, str(tmp_path / 'w'), [0, 1], None)
    assert len(teachers) == 2 and len(runs) == 2  # 2 seeds: KD's runs
    for seed in (0, 1):
        base = cells[(0, 'image')][seed]
        kd = cells[(1, 'audio')][seed]
        assert kd.teachers['image'] is base and base in teachers
    teachers, runs, cells = plan(cfg, str(tmp_path / 'w'), [0], 5)
    assert len(teachers) == 1 and len(runs) == 2
    assert cells[(0, 'image')][0] is not teachers[0]


def test_nyu_table_with_miou_selection(tmp_path):
    """A Table 2 spec on the NYU fixture (w/o KD, rgb student, one seed,
    1 epoch, a tiny FuseNet; the baselines run end to end in
    test_nyu_baselines.py): the run tested with its best checkpoint by CE
    and by mIoU, the table's cells the run's test mIoU."""
    from tests.nyu_data import make_nyu_root
    root = make_nyu_root(str(tmp_path / 'nyu'), n=10, h=32, w=32)
    tiny = '(4,8,8,16,16)'
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={root}',
                 f'{loader}.num_workers=0', f'{loader}.batch_size=2']
    spec = tmp_path / 'spec.py'
    spec.write_text(f"""
columns = dict(rgb='NYU rgb')
seeds = [0]
epochs = 1
metrics = ['mIoU', 'OA']
selections = ['CE', 'mIoU']
options = {opts!r}
rows = [
    dict(method='w/o KD', baseline=True, cells=dict(rgb=dict(
        config='configs/members/nyu_rgb.py',
        options=['model.channels={tiny}']))),
]
""")
    work = str(tmp_path / 'bench')
    result = run_tool(['tools/analysis_tools/benchmark.py', str(spec),
                       '--work-dir', work])
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    assert '0 teacher runs, 1 cell runs, 1 to do' in result.stdout
    table = json.load(open(osp.join(work, 'table.json')))
    assert table['selections'] == ['CE', 'mIoU']
    for row, name in zip(table['rows'], ('nyu_rgb', )):
        run_dir, = [d for d in os.listdir(osp.join(work, 'runs'))
                    if d.startswith(name)]
        for key in ('CE', 'mIoU'):
            tested = json.load(open(osp.join(work, 'runs', run_dir,
                                             'seed_0', f'test_{key}.json')))
            cell = row['cells']['rgb'][key]['mIoU']
            assert cell['n'] == 1 and cell['values'] == [tested['mIoU']]
    md = open(osp.join(work, 'table.md')).read()
    assert '**mIoU, best checkpoint by validation mIoU (mIoU)**' in md


def test_rows_with_options_take_the_spec_configs(tmp_path):
    """A row without ``cells`` runs the spec's ``configs`` (one per column)
    with its ``options`` (lists flattened) and ``fork``; the plan equals
    the one of the same cells written out."""
    from mstkd.apis.benchmark import load_spec, plan
    mst = dict(image='configs/mst/mst_avdigits_image.py',
               audio='configs/mst/mst_avdigits_audio.py')
    short = tmp_path / 'short.py'
    short.write_text(f"""
columns = dict(image='image', audio='audio')
configs = {mst!r}
rows = [dict(method='default'),
        dict(method='off', options=[['a.b=1', 'c=2'], 'd=3']),
        dict(method='cv', options=['model.lb_mode=cv'], fork='s2')]
""")

    def cells(options, fork=None):
        return {c: dict(config=p, options=options, fork=fork)
                for c, p in mst.items()}

    full = tmp_path / 'full.py'
    full.write_text(f"""
columns = dict(image='image', audio='audio')
rows = [dict(method='default', cells={cells([])!r}),
        dict(method='off', cells={cells(['a.b=1', 'c=2', 'd=3'])!r}),
        dict(method='cv', cells={cells(['model.lb_mode=cv'], 's2')!r})]
""")
    a, b = load_spec(str(short)), load_spec(str(full))
    assert [r.cells for r in a.rows] == [r.cells for r in b.rows]
    plans = [plan(s, str(tmp_path / 'w'), [0], 10) for s in (a, b)]
    assert [r.work_dir for r in plans[0][1]] == \
        [r.work_dir for r in plans[1][1]]
    assert plans[0][1][-1].fork == 's2'
