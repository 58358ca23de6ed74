"""Stages as data: the loop's stage schedule and the per-stage optimizers
read the stage names from the config and check them against the model."""
import pytest
import torch

from mstkd.engine.loops.multi_stage_loop import parse_stage_epochs
from mstkd.engine.optimizers import StageOptimWrapperConstructor
from mstkd.models import ConfigurableDistiller
from mstkd.utils.errors import UserInputError


def two_stage_model():
    mlp = dict(type='MLP', in_channels=3, hidden_channels=(4, ),
               num_classes=2)
    return ConfigurableDistiller(
        members=dict(t=dict(mlp, modality='a'), s=dict(mlp, modality='a')),
        target='s',
        losses=dict(loss_ce=dict(type='CrossEntropyLoss'),
                    loss_kd=dict(type='KLDivergenceLoss')),
        loss_forward_mappings=dict(
            loss_ce=dict(logits='s:', labels='labels'),
            loss_kd=dict(pred='s:', target='t:')),
        stages=dict(warmup=dict(trainable=['members.t'],
                                losses=['loss_ce']),
                    kd=dict(trainable=['student'], losses=['loss_kd'])))


def test_parse_stage_epochs():
    assert list(parse_stage_epochs(dict(b=2, a=dict(epochs=0))).items()) \
        == [('b', 2), ('a', 0)]
    for bad in (dict(a=-1), dict(a=1.5), dict(a=dict(epoch=3)), {}):
        with pytest.raises(UserInputError):
            parse_stage_epochs(bad)


def test_stage_optimizers_hold_the_stage_modules():
    model = two_stage_model()
    adam = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
    sgd = dict(optimizer=dict(type='SGD', lr=0.1))
    wrappers = StageOptimWrapperConstructor(dict(warmup=adam, kd=sgd))(model)
    assert set(wrappers.keys()) == {'warmup', 'kd'}
    ids = {k: {id(p) for g in w.optimizer.param_groups for p in g['params']}
           for k, w in wrappers.items()}
    assert ids['warmup'] == {id(p) for p in model.members['t'].parameters()}
    assert ids['kd'] == {id(p) for p in model.members['s'].parameters()}
    assert isinstance(wrappers['kd'].optimizer, torch.optim.SGD)
    with pytest.raises(UserInputError, match="missing \"kd\""):
        StageOptimWrapperConstructor(dict(warmup=adam))(model)
    with pytest.raises(UserInputError, match="\\['s3'\\] that are not"):
        StageOptimWrapperConstructor(dict(warmup=adam, kd=adam,
                                          s3=adam))(model)
    with pytest.raises(UserInputError, match='one wrapper config'):
        StageOptimWrapperConstructor(dict(warmup=adam, lr=1e-3))


def test_stage_switch_freezes_and_keeps_frozen_parts_in_eval():
    model = two_stage_model()
    assert model.stage == 'warmup'
    model.train()
    assert model.members['t'].training and not model.members['s'].training
    model.set_stage('kd')
    assert not any(p.requires_grad for p in model.members['t'].parameters())
    assert all(p.requires_grad for p in model.members['s'].parameters())
    assert model.members['s'].training and not model.members['t'].training
    with pytest.raises(UserInputError, match='Unknown stage "s9"'):
        model.set_stage('s9')
