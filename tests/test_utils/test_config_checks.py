"""Config checks before the Runner: misspelt types, arguments, top-level
keys and negative stage lengths fail in one line with close matches."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mstkd.utils import register_all_modules
from mstkd.utils.config_checks import (accepted_arguments, check_config,
                                       check_top_level_options)
from mstkd.utils.errors import UserInputError
from tests.helpers import REPO, run_tool

MST = osp.join(REPO, 'configs/mst/mst_avdigits_image.py')
MEMBER = osp.join(REPO, 'configs/members/avdigits_image.py')


@pytest.fixture(scope='module', autouse=True)
def _registered():
    register_all_modules(init_default_scope=False)


def test_every_shipped_config_passes():
    files = [f for f in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                                  recursive=True) if '/_base_/' not in f]
    assert len(files) > 30
    for path in files:
        check_config(Config.fromfile(path))


@pytest.mark.parametrize('config,options,message', [
    (MST, {'model.gate.type': 'GateNett'},
     "model.gate.type: unknown type 'GateNett'.*Did you mean 'GateNet'"),
    (MST, {'model.temprature': 2.0},
     "model.temprature: MSTDistill has no argument 'temprature'. Did you "
     "mean 'temperature'"),
    (MST, {'train_cfg.s3_epoch': 3},
     "train_cfg.s3_epoch: MSTDistillLoop has no argument 's3_epoch'. Did "
     "you mean 's3_epochs'"),
    (MST, {'model.members.image.num_clases': 3},
     "model.members.image.num_clases: LeNet5 has no argument"),
    (MST, {'train_cfg.s2_epochs': -1},
     'train_cfg.s2_epochs=-1: the number of epochs must be >= 0'),
    (MST, {'model.members.audio.num_classes': 5},
     'model.members.audio.num_classes=5, but the training set '
     r'\(AVDigitsDataset\) has 10 classes'),
    (MEMBER, {'model.member.num_classes': 12},
     'model.member.num_classes=12, but the training set'),
    (MEMBER, {'train_cfg.max_epoch': 3},
     "EpochBasedTrainLoop has no argument 'max_epoch'. Did you mean "
     "'max_epochs'"),
])
def test_typos_fail_with_close_matches(config, options, message):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    with pytest.raises(UserInputError, match=message):
        check_config(cfg)


def test_top_level_options():
    cfg = Config.fromfile(MST)
    with pytest.raises(UserInputError,
                       match="'load_form' is no key.*Did you mean "
                       "'load_from'"):
        check_top_level_options(cfg, {'load_form': 'x.pth'})
    # keys of the config, of the Runner, or nested new keys are fine
    check_top_level_options(cfg, {'load_from': 'x.pth', 'model.k': 2,
                                  'randomness.deterministic': True,
                                  'custom_hooks': []})


def test_accepted_arguments_follow_kwargs_up_the_mro():
    from mstkd.models.segmentors import FuseNet
    accepted = accepted_arguments(FuseNet)
    assert {'fusion', 'num_classes', 'dropout_ratio', 'init_mode'} <= accepted

    class Anything:
        def __init__(self, **kwargs):
            pass

    assert accepted_arguments(Anything) is None


def test_train_py_fails_before_the_environment_dump(tiny_avdigits):
    proc = run_tool(['tools/train.py', MST, '--cfg-options',
                     'load_form=x.pth'])
    assert proc.returncode == 2
    assert "Did you mean 'load_from'" in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert 'System environment' not in proc.stdout + proc.stderr


def test_model_build_errors_come_before_the_environment_dump(tmp_path):
    """A wrong layer path is found when the model is built: the dry build
    of load_run_config reports it first, with the valid paths."""
    proc = run_tool(['tools/train.py', MST, '--work-dir', str(tmp_path),
                     '--cfg-options', "model.teachers.mm=['fusion.fc9']"])
    assert proc.returncode == 2
    assert "'fusion.fc9' is not a submodule" in proc.stderr
    assert 'fusion.fc1' in proc.stderr and 'Traceback' not in proc.stderr
    assert 'System environment' not in proc.stdout + proc.stderr


def test_the_dry_build_leaves_the_random_state_and_logs_alone():
    import random

    import numpy as np
    import torch

    from mstkd.utils.config_checks import check_model_builds
    cfg = Config.fromfile(MST)
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    want = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    check_model_builds(cfg)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(want[0], got[0])
    assert np.array_equal(want[1], got[1]) and want[2] == got[2]
