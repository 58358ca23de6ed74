"""tools/test.py loads strictly: a checkpoint of another model or of
another target fails before testing (exit 2, the first mismatched keys and
the likely cause); ``--non-strict`` tests it with a warning; matching
checkpoints (an MST checkpoint with its MST config, whose MaskNets are not
built at test time; a member checkpoint with its member config) pass."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mstkd.registry import MODELS
from mstkd.utils import register_all_modules
from mstkd.utils.checkpoint_match import (check_checkpoint_fits, check_keys,
                                          key_mismatch, read_checkpoint,
                                          slim_filled, training_model_cfg)
from mstkd.utils.errors import UserInputError
from tests.helpers import data_options, run_tool

IMAGE_CFG = 'configs/members/avdigits_image.py'
MST_CFG = 'configs/mst/mst_avdigits_image.py'
MST_AUDIO_CFG = 'configs/mst/mst_avdigits_audio.py'


@pytest.fixture(scope='module')
def mst_run(tiny_avdigits, tmp_path_factory):
    """An MST-Distill run (image target) on the tiny AV-Digits file: its
    work dir and best checkpoint."""
    work = str(tmp_path_factory.mktemp('strict') / 'mst')
    res = run_tool([
        'tools/train.py', MST_CFG, '--work-dir', work, '--cfg-options',
        'train_cfg.s1_epochs=1', 'train_cfg.s2_epochs=1',
        'train_cfg.s3_epochs=1', 'model.masknet.projector=light',
        *data_options(tiny_avdigits)])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    assert len(best) == 1
    return work, best[0]


def _test(config, ckpt, tiny_avdigits, tmp_path, *extra):
    out = str(tmp_path / 'm.json')
    res = run_tool(['tools/test.py', config, ckpt, '--out', out,
                    '--work-dir', str(tmp_path / 'test'), *extra,
                    '--cfg-options', *data_options(tiny_avdigits)])
    return res, out


def _model(config, **model_options):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    cfg.model.update(model_options)
    return MODELS.build(cfg.model), cfg


# -- end to end ---------------------------------------------------------------
def test_mst_checkpoint_with_member_config_fails(mst_run, tiny_avdigits,
                                                 tmp_path):
    work, best = mst_run
    res, out = _test(IMAGE_CFG, best, tiny_avdigits, tmp_path)
    assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
    assert 'Traceback' not in res.stderr and not osp.exists(out)
    err = res.stderr.strip()
    assert err.count('\n') == 0 and err.startswith('error: ')
    assert '10 model keys missing from the checkpoint: member.conv1.weight' \
        in err
    assert 'unexpected checkpoint keys: members.' in err
    assert 'this is an MST-Distill checkpoint (trained as MSTDistill, ' \
        "target 'image')" in err
    assert "'members.image.*' weights, renamed 'member.*'" in err
    # the copy of the training config in the work dir is named
    assert osp.join(work, 'mst_avdigits_image.py') in err
    assert '--non-strict' in err
    assert 'Epoch(test)' not in res.stdout  # nothing was tested


def test_mst_checkpoint_of_another_target_fails(mst_run, tiny_avdigits,
                                                tmp_path):
    # same members (keys fit), but the audio config scores the audio member
    _, best = mst_run
    res, out = _test(MST_AUDIO_CFG, best, tiny_avdigits, tmp_path)
    assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
    assert 'Traceback' not in res.stderr and not osp.exists(out)
    assert "was trained for target 'image' but the config tests target " \
        "'audio'" in res.stderr
    # before the Runner's environment dump
    assert 'System environment' not in res.stdout


def test_mst_checkpoint_with_its_config_and_non_strict(mst_run, tiny_avdigits,
                                                       tmp_path):
    # its own config: the MaskNet weights (not built at test time) are no
    # mismatch
    _, best = mst_run
    res, out = _test(MST_CFG, best, tiny_avdigits, tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert 'does not fit' not in res.stdout + res.stderr
    assert 'missing keys' not in res.stdout + res.stderr
    assert {'OA', 'AA'} <= set(json.load(open(out)))

    # --non-strict: today's behaviour (a random member scored) with a
    # warning that lists the mismatch
    res, out = _test(IMAGE_CFG, best, tiny_avdigits, tmp_path / 'ns',
                     '--non-strict')
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert 'WARNING - --non-strict: testing anyway; checkpoint' in log
    assert 'member.conv1.weight' in log and 'MST-Distill checkpoint' in log
    assert osp.isfile(out)


# -- in process ---------------------------------------------------------------
def _member_checkpoint(path, config=IMAGE_CFG, **model_options):
    """A checkpoint as tools/train.py writes it for a member config."""
    model, cfg = _model(config, **model_options)
    name = osp.splitext(osp.basename(config))[0]
    torch.save(dict(meta=dict(cfg=cfg.pretty_text,
                              experiment_name=f'{name}_20250101_120000'),
                    state_dict=model.state_dict()), path)
    return str(path)


def test_member_checkpoint_with_mst_config_fails(tmp_path):
    ckpt = _member_checkpoint(tmp_path / 'epoch_1.pth')
    (tmp_path / 'avdigits_image.py').write_text('# the saved config\n')
    model, cfg = _model(MST_CFG)
    with pytest.raises(UserInputError) as e:
        check_checkpoint_fits(model, cfg.model, ckpt)
    msg = str(e.value)
    assert 'model keys missing from the checkpoint: members.' in msg
    assert '10 unexpected checkpoint keys: member.conv1.weight' in msg
    assert 'single-member checkpoint (trained as MemberClassifier)' in msg
    assert str(tmp_path / 'avdigits_image.py') in msg


def test_member_checkpoints(tmp_path):
    ckpt = _member_checkpoint(tmp_path / 'a.pth')
    model, cfg = _model(IMAGE_CFG)
    check_checkpoint_fits(model, cfg.model, ckpt)  # its own config
    loaded = model.state_dict()
    saved = torch.load(ckpt)['state_dict']
    assert all(torch.equal(loaded[k], v) for k, v in saved.items())

    # another architecture: the shapes are listed
    model, cfg = _model(IMAGE_CFG)
    model.member.fc2 = torch.nn.Linear(84, 5)
    with pytest.raises(UserInputError,
                       match=r'2 shape mismatches: member.fc2.weight '
                       r'\(checkpoint \[10, 84\], model \[5, 84\]\), '
                       r'member.fc2.bias .*likely cause: the architectures '
                       'differ'):
        check_checkpoint_fits(model, cfg.model, ckpt)

    # a plain state dict (no meta): keys only
    torch.save(saved, tmp_path / 'plain.pth')
    model, cfg = _model(IMAGE_CFG)
    check_checkpoint_fits(model, cfg.model, str(tmp_path / 'plain.pth'))


def test_unbuilt_masknets_are_no_mismatch(mst_run):
    work, best = mst_run
    # s2_end.pth holds the MaskNets (its teachers: s1_end.pth's, read back)
    path = osp.join(work, 's2_end.pth')
    ckpt = slim_filled(read_checkpoint(path), path)
    assert any(k.startswith('masknets.') for k in ckpt['state_dict'])
    assert training_model_cfg(ckpt)['target'] == 'image'
    model, cfg = _model(MST_CFG)
    assert not len(model.masknets)
    assert not key_mismatch(model, ckpt['state_dict'])
    check_keys(model, ckpt, path)
    for key, value in ckpt['state_dict'].items():
        if not key.startswith('masknets.'):
            assert torch.equal(model.state_dict()[key], value), key
    # a best checkpoint holds the student and the gate only: what it leaves
    # out by design is no mismatch either
    student = read_checkpoint(best)
    assert {k.split('.')[0] for k in student['state_dict']} == {
        'members', 'gate'}
    check_keys(_model(MST_CFG)[0], student, best)
    # a gate of another size is a mismatch all the same
    model, cfg = _model(MST_CFG, teachers=dict(mm=['fusion.concat']))
    with pytest.raises(UserInputError, match='shape mismatches: gate.'):
        check_keys(model, ckpt, path)


def test_training_config_is_read_without_executing_it(tmp_path):
    flag = tmp_path / 'executed'
    text = (f"import os\nos.system('touch {flag}')\n"
            f"model = dict(type='MSTDistill', target='image', "
            f"k=__import__('os').system('touch {flag}'), "
            "members=dict(a=dict(type='MLP', channels=(1, -2))))\n")
    model = training_model_cfg(dict(meta=dict(cfg=text)))
    assert model == dict(type='MSTDistill', target='image', k=None,
                         members=dict(a=dict(type='MLP', channels=[1, -2])))
    assert not flag.exists()
    assert training_model_cfg(dict(meta=dict(cfg='model = ('))) is None
    assert training_model_cfg(dict(state_dict={})) is None
