"""ConfigurableDistiller: a method declared purely in config (recorders,
connectors, losses, stages), trained end to end through tools/train.py;
declaration errors; the task injection; pretrained members."""
import glob
import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mstkd.models import ConfigurableDistiller
from mstkd.utils.errors import UserInputError
from tests.helpers import REPO, data_options, reference_kl, run_tool

C = 5

# The shipped FitNets config (Romero et al. 2015): a hint stage (a regressor
# on the student's fc1, MSE to the teacher's fusion.fc1), then a KD stage.
FITNETS = osp.join(REPO, 'configs', 'baselines', 'fitnets',
                   'fitnets_avdigits_image_mm.py')


def _ok(result):
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


def _state(path):
    """A stage-end checkpoint's whole state dict (a slim checkpoint's
    references to earlier stage-end files filled back)."""
    from mstkd.utils.checkpoint import load_full_state_dict
    return load_full_state_dict(path)


def _initial_state(config, npz, work_dir, options=None):
    """The model of a run before training (built with the run's seed)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict(options or {})
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.update(data_file=npz, n_mels=64, n_frames=64)
    cfg.work_dir = work_dir
    runner = Runner.from_cfg(cfg)
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_two_stage_method_declared_in_config(tiny_avdigits, tmp_path):
    opts = data_options(tiny_avdigits)
    teacher_dir = str(tmp_path / 'teacher')
    _ok(run_tool(['tools/train.py', 'configs/members/avdigits_fusion.py',
                  '--work-dir', teacher_dir, '--cfg-options',
                  'train_cfg.max_epochs=1', *opts]))
    # the teacher's work dir: its best checkpoint by validation loss
    teacher = glob.glob(osp.join(teacher_dir, 'best_CE_epoch_*.pth'))[0]
    options = {'model.pretrained.mm.checkpoint': teacher_dir,
               'train_cfg.stages.hint': 1, 'train_cfg.stages.kd': 2}
    config = FITNETS
    work = str(tmp_path / 'fitnets')
    log = _ok(run_tool(['tools/train.py', str(config), '--work-dir', work,
                        '--cfg-options', *opts,
                        *[f'{k}={v}' for k, v in options.items()]]))
    assert 'Entering FitNets hint training at epoch 1' in log
    assert 'Entering FitNets knowledge distillation at epoch 2' in log
    # widths from a dry forward: LeNet5 fc1 (84) -> fusion fc1 (170)
    assert 'Connectors: hint (LinearConnector: 84 -> 170)' in log
    assert f'Member "mm" loaded from {teacher} (prefix "member.")' in log

    hint, kd = (_state(osp.join(work, f'{s}_end.pth')) for s in ('hint',
                                                               'kd'))
    start = _state(teacher)
    for key, value in start.items():  # the teacher never trains
        name = 'members.mm.' + key[len('member.'):]
        torch.testing.assert_close(hint[name], value, rtol=0, atol=0)
        torch.testing.assert_close(kd[name], value, rtol=0, atol=0)
    connector = [k for k in hint if k.startswith('connectors.hint.')]
    assert connector and all(torch.equal(hint[k], kd[k]) for k in connector)
    student = [k for k in hint if k.startswith('members.image.')]
    assert any(not torch.equal(hint[k], kd[k]) for k in student)
    # the hint loss trains fc1 (and below), not the head: fc2 keeps its
    # initial weights (the run's seed rebuilds them) until the KD stage
    init = _initial_state(config, tiny_avdigits, str(tmp_path / 'init'),
                          options)
    assert not torch.equal(init['members.image.fc1.weight'],
                           hint['members.image.fc1.weight'])
    assert torch.equal(init['members.image.fc2.weight'],
                       hint['members.image.fc2.weight'])
    assert not torch.equal(hint['members.image.fc2.weight'],
                           kd['members.image.fc2.weight'])

    rows = [json.loads(line) for path in glob.glob(
        osp.join(work, '*', 'vis_data', 'scalars.json'))
        for line in open(path)]
    train = [r for r in rows if 'loss' in r]
    assert {k for r in train if r['epoch'] == 1 for k in r
            if k.startswith('loss_')} == {'loss_hint'}
    assert {k for r in train if r['epoch'] > 1 for k in r
            if k.startswith('loss_')} == {'loss_ce', 'loss_kd'}

    out = str(tmp_path / 'm.json')
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    assert len(best) == 1 and int(best[0][-5]) in (2, 3)
    _ok(run_tool(['tools/test.py', str(config), best[0], '--out', out,
                  '--work-dir', str(tmp_path / 't'), '--cfg-options',
                  *opts, f'model.pretrained.mm.checkpoint={teacher_dir}']))
    assert set(json.load(open(out))) >= {'OA', 'AA'}


# ---------------------------------------------------------------- unit
def mlp(modality, dim, hidden=(12, 8)):
    return dict(type='MLP', in_channels=dim, hidden_channels=hidden,
                num_classes=C, modality=modality)


def kd_cfg(**kwargs):
    cfg = dict(
        members=dict(teacher=mlp('b', 7), student=mlp('a', 6)),
        target='student',
        losses=dict(loss_ce=dict(type='CrossEntropyLoss'),
                    loss_kd=dict(type='KLDivergenceLoss', temperature=2.0)),
        loss_forward_mappings=dict(
            loss_ce=dict(logits='student:', labels='labels'),
            loss_kd=dict(pred='student:', target='teacher:')))
    cfg.update(kwargs)
    return cfg


def seg_kd_cfg(**kwargs):
    """CE + KD between two ToySegmentors (register them first: import
    ``test_mst_seg.ToySegmentor``)."""
    return dict(
        members=dict(mm=dict(type='ToySegmentor', num_classes=C),
                     rgb=dict(type='ToySegmentor', channels=(0, 1, 2),
                              num_classes=C)),
        target='rgb', task=dict(type='SegTask'),
        losses=dict(loss_ce=dict(type='CrossEntropyLoss'),
                    loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
        loss_forward_mappings=dict(
            loss_ce=dict(logits='rgb:', labels='labels'),
            loss_kd=dict(pred='rgb:', target='mm:')),
        **kwargs)


def batch(n=6):
    g = torch.Generator().manual_seed(0)
    return (dict(a=torch.randn(n, 6, generator=g),
                 b=torch.randn(n, 7, generator=g)),
            dict(gt_label=torch.randint(0, C, (n, ), generator=g)))


def test_single_stage_kd_values_and_frozen_teacher():
    model = ConfigurableDistiller(**kd_cfg())
    assert model.stage_names == ['train']
    model.train()
    assert not model.members['teacher'].training
    assert model.members['student'].training
    assert not any(p.requires_grad
                   for p in model.members['teacher'].parameters())
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    assert list(losses) == ['loss_ce', 'loss_kd']
    s = model.members['student'](inputs)
    t = model.members['teacher'](inputs)
    torch.testing.assert_close(losses['loss_ce'],
                               F.cross_entropy(s, samples['gt_label']))
    # KL(teacher || student) at T = 2, times T^2, in float64
    assert losses['loss_kd'].item() == pytest.approx(
        reference_kl(t, s, 2.0).item(), rel=1e-5, abs=1e-7)
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.members['teacher'].parameters())
    assert model.members['student'].fc1.weight.grad is not None


def test_declaration_errors_name_the_fix():
    with pytest.raises(UserInputError) as info:
        ConfigurableDistiller(**kd_cfg(loss_forward_mappings=dict(
            loss_ce=dict(logits='student:', labels='labels'),
            loss_kd=dict(pred='student:', target='teacher:fc9'))))
    assert 'fc9' in str(info.value) and 'fc1' in str(info.value)
    with pytest.raises(UserInputError, match='unknown record "logits"'):
        ConfigurableDistiller(**kd_cfg(loss_forward_mappings=dict(
            loss_ce=dict(logits='logits', labels='labels'),
            loss_kd=dict(pred='student:', target='teacher:'))))
    with pytest.raises(UserInputError, match="unknown arguments \\['inp'\\]"):
        ConfigurableDistiller(**kd_cfg(loss_forward_mappings=dict(
            loss_ce=dict(inp='student:', logits='student:',
                         labels='labels'),
            loss_kd=dict(pred='student:', target='teacher:'))))
    with pytest.raises(UserInputError,
                       match="unmapped required arguments \\['target'\\]"):
        ConfigurableDistiller(**kd_cfg(loss_forward_mappings=dict(
            loss_ce=dict(logits='student:', labels='labels'),
            loss_kd=dict(pred='student:'))))
    with pytest.raises(UserInputError, match="missing: \\['loss_kd'\\]"):
        ConfigurableDistiller(**kd_cfg(loss_forward_mappings=dict(
            loss_ce=dict(logits='student:', labels='labels'))))
    with pytest.raises(UserInputError, match='undeclared losses'):
        ConfigurableDistiller(**kd_cfg(stages=dict(
            a=dict(trainable=['student'], losses=['loss_mse']))))
    with pytest.raises(UserInputError, match='name no module'):
        ConfigurableDistiller(**kd_cfg(stages=dict(
            a=dict(trainable=['students'], losses=['loss_ce']))))
    with pytest.raises(UserInputError, match='target "x" is not a member'):
        ConfigurableDistiller(**kd_cfg(target='x'))


def test_task_arguments_reach_segmentation_losses():
    """One declaration serves segmentation: void pixels are ignored by CE
    and left out of the KL through the injected valid mask."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from tests.test_models.test_algorithms.test_mst_seg import ToySegmentor
    assert ToySegmentor  # registered
    model = ConfigurableDistiller(**seg_kd_cfg())
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, 4, 8, 12, generator=g)
    samples = []
    for _ in range(2):
        label = torch.randint(0, C, (1, 8, 12), generator=g)
        label[:, :3] = 255
        sample = SegDataSample(metainfo=dict(img_shape=(8, 12),
                                             ori_shape=(8, 12)))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    losses = model(inputs, samples, mode='loss')
    labels = model.task.labels(samples)
    valid = labels != 255
    s, t = model.members['rgb'](inputs), model.members['mm'](inputs)
    torch.testing.assert_close(
        losses['loss_ce'], F.cross_entropy(s, labels, ignore_index=255))
    # per pixel KL(mm || rgb) at T = 4 times T^2, in float64, mean over
    # the non-void pixels only
    assert valid.sum() < valid.numel()
    assert losses['loss_kd'].item() == pytest.approx(
        reference_kl(t, s, 4.0, valid).item(), rel=1e-5, abs=1e-7)
    preds = model(inputs, samples, mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 8, 12)


def test_connector_widths_and_loss_need_setup():
    model = ConfigurableDistiller(**kd_cfg(
        connectors=dict(proj=dict(type='LinearConnector',
                                  source='student:fc1',
                                  target='teacher:fc2')),
        losses=dict(loss_mse=dict(type='MSELoss')),
        loss_forward_mappings=dict(
            loss_mse=dict(pred='proj', target='teacher:fc2')),
        stages=None))
    inputs, samples = batch()
    with pytest.raises(RuntimeError, match='MultiStageTrainLoop'):
        model(inputs, samples, mode='loss')
    model.setup(inputs, ['train'])
    proj = model.connectors['proj']
    assert (proj.in_channels, proj.out_channels) == (12, 8)
    # the default stage trains the student and every connector
    assert proj.fc.weight.requires_grad
    loss = model(inputs, samples, mode='loss')['loss_mse']
    loss.backward()
    assert proj.fc.weight.grad is not None
    assert model.members['student'].fc1.weight.grad is not None
    # a student-only checkpoint loads without the connectors built
    fresh = ConfigurableDistiller(**kd_cfg(
        connectors=dict(proj=dict(type='LinearConnector',
                                  source='student:fc1',
                                  target='teacher:fc2')),
        losses=dict(loss_mse=dict(type='MSELoss')),
        loss_forward_mappings=dict(
            loss_mse=dict(pred='proj', target='teacher:fc2'))))
    fresh.load_state_dict(model.state_dict())
    assert len(fresh.connectors) == 0
