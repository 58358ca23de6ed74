"""NaNGuardHook: a non-finite loss term or parameter stops the run at once,
with stage, epoch, iteration and the loss terms in one line, and the last
good checkpoint kept."""
import logging
import math
import os.path as osp
import re
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.runner import get_priority

from mstkd.engine.hooks import MaskNetSelectionHook, NaNGuardHook
from mstkd.utils.cli import run_tool as run_main
from mstkd.utils.errors import (RunFailedError, TrainingDivergedError,
                                UserInputError)
from mstkd.utils.checkpoint import fill_external_state
from tests.helpers import data_options, run_tool

IMAGE_CFG = 'configs/members/avdigits_image.py'
MST_CFG = 'configs/mst/mst_avdigits_image.py'


def _load_finite(path, cfg_file):
    """The checkpoint loads strictly into the config's model and holds only
    finite weights."""
    from mstkd.registry import MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    model = MODELS.build(Config.fromfile(cfg_file).model)
    # weights-only, as mstkd's checkpoints must load (RNG states included)
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    # a slim checkpoint: the weights earlier stage-end files hold
    fill_external_state(ckpt, path)
    state = ckpt['state_dict']
    state = {k: v for k, v in state.items() if not k.startswith('masknets.')}
    model.load_state_dict(state)
    assert all(torch.isfinite(v).all() for v in state.values())


def _diverged(res):
    assert res.returncode == 3, res.stdout[-3000:] + res.stderr[-3000:]
    assert 'Traceback' not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('error: ')]
    assert len(errors) == 1, res.stderr[-3000:]
    return errors[0]


# -- end to end ---------------------------------------------------------------
def test_member_run_stops_at_first_nan_and_keeps_last_checkpoint(
        tiny_avdigits, tmp_path):
    # epoch 1 trains at lr 1e-3; from epoch 2 the lr is 1e10 (x 1e13)
    work = str(tmp_path / 'nan')
    res = run_tool([
        'tools/train.py', IMAGE_CFG, '--work-dir', work, '--cfg-options',
        'train_cfg.max_epochs=3', 'param_scheduler.type=MultiStepLR',
        'param_scheduler.by_epoch=True', 'param_scheduler.milestones=[1]',
        'param_scheduler.gamma=1e13', *data_options(tiny_avdigits)])
    line = _diverged(res)
    # 120 training samples, batch 32: 4 iterations per epoch; the first
    # step at lr 1e10 (iteration 5) breaks the weights, iteration 6's loss
    # is the first non-finite one
    assert 'training diverged' in line and 'stage' not in line
    assert 'epoch 2, iteration 6 (batch 2/4 of the epoch)' in line
    assert re.search(r'loss=(nan|inf|-inf), loss_ce=(nan|inf|-inf)', line)
    assert osp.join(work, 'epoch_1.pth') in line
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    assert open(osp.join(work, 'last_checkpoint')).read().strip() == \
        osp.join(work, 'epoch_1.pth')
    _load_finite(osp.join(work, 'epoch_1.pth'), IMAGE_CFG)
    # the log file has the message too
    assert 'training diverged' in res.stdout


def test_mst_run_names_the_stage(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'mst')
    res = run_tool([
        'tools/train.py', MST_CFG, '--work-dir', work, '--cfg-options',
        'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
        'train_cfg.s3_epochs=2', 'model.masknet.projector=light',
        'optim_wrapper.s3.optimizer.lr=1e10', *data_options(tiny_avdigits)])
    line = _diverged(res)
    # S3 starts at epoch 3, iteration 9; its first step breaks the student
    assert 'stage s3, epoch 3, iteration 10 (batch 2/4 of the epoch)' in line
    for term in ('loss', 'loss_ce', 'loss_routed_kd', 'loss_lb'):
        assert re.search(rf'\b{term}=(nan|inf|-inf)', line), line
    for name in ('s1_end.pth', 's2_end.pth', 'epoch_2.pth'):
        assert osp.isfile(osp.join(work, name))
    assert not osp.exists(osp.join(work, 'epoch_3.pth'))
    assert not osp.exists(osp.join(work, 's3_end.pth'))
    _load_finite(osp.join(work, 'epoch_2.pth'), MST_CFG)


# -- unit ---------------------------------------------------------------------
def _runner(tmp_path, model, stage='s2', epoch=2, it=7, batches=4):
    loop = SimpleNamespace(stage=stage, dataloader=[None] * batches)
    return SimpleNamespace(model=model, epoch=epoch, iter=it,
                           work_dir=str(tmp_path), train_loop=loop,
                           _train_loop=loop,
                           logger=logging.getLogger('nan-guard-test'))


def test_hook_checks_every_loss_term(tmp_path):
    hook = NaNGuardHook()
    runner = _runner(tmp_path, nn.Linear(3, 2))
    ok = dict(loss=torch.tensor(1.5), loss_a=torch.tensor(1.0),
              loss_b=torch.tensor(0.5))
    hook.after_train_iter(runner, 3, outputs=ok)
    with pytest.raises(TrainingDivergedError) as e:
        hook.after_train_iter(runner, 3, outputs=dict(
            loss=torch.tensor(math.inf), loss_a=torch.tensor(1.0),
            loss_b=torch.tensor(math.inf)))
    msg = str(e.value)
    assert 'non-finite loss term(s) loss, loss_b at stage s2, epoch 3, ' \
        'iteration 8 (batch 4/4 of the epoch)' in msg
    assert 'loss=inf, loss_a=1, loss_b=inf' in msg
    assert 'No checkpoint had been saved' in msg
    assert isinstance(e.value, RunFailedError)
    assert not isinstance(e.value, UserInputError)

    # a single-stage run: no stage; the kept checkpoint is named
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    runner = _runner(tmp_path, nn.Linear(3, 2), stage=None, epoch=0, it=0)
    with pytest.raises(TrainingDivergedError) as e:
        hook.after_train_iter(runner, 0, outputs=dict(
            loss=torch.tensor(math.nan), loss_ce=torch.tensor(math.nan)))
    assert str(e.value).startswith(
        'training diverged: non-finite loss term(s) loss, loss_ce at epoch 1,'
        ' iteration 1 (batch 1/4 of the epoch); loss terms: loss=nan, '
        'loss_ce=nan.')
    assert f'{tmp_path / "epoch_2.pth"}, is kept' in str(e.value)


def test_hook_checks_trainable_parameters(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    runner = _runner(tmp_path, model)
    losses = dict(loss=torch.tensor(0.25))
    hook = NaNGuardHook()
    with torch.no_grad():
        model[1].bias[0] = math.nan
    with pytest.raises(TrainingDivergedError) as e:
        hook.after_train_iter(runner, 3, outputs=losses)
    assert 'non-finite parameter(s) 1.bias at stage s2, epoch 3, iteration 8' \
        in str(e.value) and 'loss=0.25' in str(e.value)

    # frozen parameters are not checked
    model[1].bias.requires_grad_(False)
    hook.after_train_iter(runner, 3, outputs=losses)

    # param_interval: only every N iterations, and at every epoch end
    model[1].bias.requires_grad_(True)
    hook = NaNGuardHook(param_interval=3)
    hook.after_train_iter(runner, 3, outputs=losses)  # iteration 8
    runner.iter = 8
    with pytest.raises(TrainingDivergedError, match='iteration 9'):
        hook.after_train_iter(runner, 3, outputs=losses)
    hook = NaNGuardHook(param_interval=0)
    hook.after_train_iter(runner, 3, outputs=losses)
    with pytest.raises(TrainingDivergedError,
                       match='at the end of stage s2, epoch 3, iteration 8;'
                       ' loss terms: loss=0.25'):
        hook.after_train_epoch(runner)
    with pytest.raises(TrainingDivergedError, match='end of stage s2'):
        hook.after_train_stage(runner, 's2')


def test_huge_finite_parameters_are_not_reported():
    # their sum overflows (the fast path) but every value is finite
    model = nn.Linear(4, 4)
    with torch.no_grad():
        model.weight.fill_(3e38)
    assert NaNGuardHook.nonfinite_params(model) == []
    with torch.no_grad():
        model.weight[0, 0] = -math.inf
    assert NaNGuardHook.nonfinite_params(model) == ['weight']


def test_hook_runs_before_checkpointing():
    # before the checkpoint hooks (the diverged epoch is never saved) and
    # after MaskNetSelectionHook (it restores the best MaskNets at a stage
    # end, which the stage-end check then sees)
    guard = get_priority(NaNGuardHook.priority)
    assert guard < get_priority(CheckpointHook.priority)
    assert guard > get_priority(MaskNetSelectionHook.priority)


@pytest.mark.parametrize('config', [
    IMAGE_CFG, MST_CFG, 'configs/mst/mst_nyu_rgb.py',
    'configs/mst/mst_crisismmd_image.py'])
def test_configs_have_the_guard(config):
    hooks = Config.fromfile(config).default_hooks
    assert hooks.nan_guard == dict(type='NaNGuardHook')


def test_run_tool_exit_status(capsys):
    def diverged():
        raise TrainingDivergedError('training diverged: loss=nan')

    def wrong_input():
        raise UserInputError('bad key')

    for main, status in ((diverged, 3), (wrong_input, 2)):
        with pytest.raises(SystemExit) as e:
            run_main(main)
        assert e.value.code == status
    err = capsys.readouterr().err
    assert err == 'error: training diverged: loss=nan\nerror: bad key\n'
