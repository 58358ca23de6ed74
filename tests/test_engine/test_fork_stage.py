"""fork_stage_end: a new run that starts from another run's s2_end.pth
trains S3 exactly as the source did (same options), or with other S3
options (e.g. a routing without a GateNet); bad forks are one line; the
benchmark plans forked cells on one shared base run per seed."""
import os
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from mstkd.utils.checkpoint import fork_stage_end, load_full_state_dict
from mstkd.utils.errors import DataNotFoundError, UserInputError
from tests.helpers import tiny_mst_config


def _train(npz, work, name, resume=False, **model):
    cfg = tiny_mst_config(npz, work, name, s1=1, s2=1, s3=2, resume=resume)
    cfg.model.update(model)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _student(state):
    return {k: v for k, v in state.items() if k.startswith('members.image.')}


@pytest.fixture(scope='module')
def source(tiny_avdigits, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('fork') / 'source')
    _train(tiny_avdigits, work, 'fork_source')
    return work


def test_fork_with_same_options_repeats_s3_exactly(tiny_avdigits, source,
                                                   tmp_path):
    dst = str(tmp_path / 'same')
    path = fork_stage_end(source, 's2', dst)
    assert path == osp.join(dst, 's2_end.pth')
    forked = torch.load(path, map_location='cpu')
    assert forked['meta']['forked_from'] == osp.join(source, 's2_end.pth')
    assert 's3' not in forked['optimizer']  # S3 has not stepped yet
    # the slim file's teachers live in s1_end.pth, its initial GateNet in
    # init.pth (which s1_end.pth refers to as well): both came along
    assert set(forked['meta']['external_state']) == {'s1_end.pth',
                                                     'init.pth'}
    for name in ('s1_end.pth', 'init.pth'):
        assert os.stat(osp.join(dst, name)).st_size == \
            os.stat(osp.join(source, name)).st_size
    with open(osp.join(dst, 'last_checkpoint')) as f:
        assert f.read() == path

    runner = _train(tiny_avdigits, dst, 'fork_same', resume=True)
    assert runner.train_loop.epoch == 4
    mine = _student(load_full_state_dict(osp.join(dst, 's3_end.pth')))
    theirs = _student(load_full_state_dict(osp.join(source, 's3_end.pth')))
    assert mine.keys() == theirs.keys() and mine
    for key in mine:  # same start, same RNG: the same S3, bit for bit
        torch.testing.assert_close(mine[key], theirs[key], rtol=0, atol=0)


def test_fork_with_other_s3_options(tiny_avdigits, source, tmp_path):
    dst = str(tmp_path / 'mean')
    fork_stage_end(source, 's2', dst)
    # no GateNet in the new model: S3 still runs, from S2's weights
    runner = _train(tiny_avdigits, dst, 'fork_mean', resume=True,
                    routing='mean')
    assert runner.model.gate is None
    assert runner.train_loop.epoch == 4
    held = load_full_state_dict(osp.join(source, 's2_end.pth'))
    mine = _student(load_full_state_dict(osp.join(dst, 's3_end.pth')))
    theirs = _student(load_full_state_dict(osp.join(source, 's3_end.pth')))
    # S3 trained the student (away from S2's) and differently from topk
    assert any(not torch.equal(mine[k], held[k]) for k in mine)
    assert any(not torch.equal(mine[k], theirs[k]) for k in mine)


def test_bad_forks_are_one_line(source, tmp_path):
    with pytest.raises(DataNotFoundError, match=r"stage-end files there: "
                       r"\['s1_end.pth', 's2_end.pth', 's3_end.pth'\]"):
        fork_stage_end(source, 's4', str(tmp_path / 'x'))
    with pytest.raises(DataNotFoundError, match='train the source run'):
        fork_stage_end(str(tmp_path), 's2', str(tmp_path / 'y'))
    dst = str(tmp_path / 'twice')
    fork_stage_end(source, 's2', dst)
    with pytest.raises(UserInputError, match='already holds a run'):
        fork_stage_end(source, 's2', dst)


def test_benchmark_plans_forked_cells_on_one_base(tmp_path):
    from mmengine.config import Config

    from mstkd.apis.benchmark import plan
    spec = tmp_path / 'spec.py'
    spec.write_text("""
columns = dict(image='image')
rows = [dict(method='paper', cells=dict(image=dict(
            config='configs/mst/mst_avdigits_image.py', fork='s2'))),
        dict(method='mean', cells=dict(image=dict(
            config='configs/mst/mst_avdigits_image.py',
            options=['model.routing=mean'], fork='s2'))),
        dict(method='soft', cells=dict(image=dict(
            config='configs/mst/mst_avdigits_image.py',
            options=['model.routing=soft'], fork='s2')))]
""")
    cfg = Config.fromfile(str(spec))
    _, runs, cells = plan(cfg, str(tmp_path / 'w'), [0, 1], 10)
    assert len(runs) == 6  # per seed: the base (paper row) + two forks
    for seed in (0, 1):
        paper, mean, soft = (cells[(i, 'image')][seed] for i in range(3))
        assert paper.base is None
        assert mean.base is paper and soft.base is paper
        assert mean.fork == soft.fork == 's2'
        assert 'model.routing=mean' in mean.options
        assert paper.work_dir != mean.work_dir != soft.work_dir
    # a fork must leave a stage to train
    spec.write_text(spec.read_text().replace("fork='s2'))),\n        dict("
                                             "method='mean'", "fork='s3'))),"
                                             "\n        dict(method='mean'"))
    with pytest.raises(UserInputError, match=r"fork='s3' must be a stage"):
        plan(Config.fromfile(str(spec)), str(tmp_path / 'w'), [0], 10)
