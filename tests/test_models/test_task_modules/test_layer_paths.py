"""Layer paths: resolution, validation with the valid paths listed, DDP
unwrapping, dry-forward shapes."""
import pytest
import torch
import torch.distributed as dist
import torch.nn as nn

from mstkd.models.task_modules import (LayerPathError, infer_feature_shapes,
                                       resolve_layer, validate_layer_paths)
from tests.helpers import make_toy_fusion as make_model
from tests.helpers import toy_inputs


# ---------------------------------------------------------------- paths
def test_resolve_layer():
    model = make_model()
    assert resolve_layer(model, 'fusion.fc1') is model.fusion.fc1
    assert resolve_layer(model, 'image_trunk.conv2') is \
        model.image_trunk.conv2
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    assert resolve_layer(seq, '0') is seq[0]
    assert resolve_layer(nn.DataParallel(model), 'fusion.fc2') is \
        model.fusion.fc2


def test_wrong_path_message():
    model = make_model()
    with pytest.raises(LayerPathError) as info:
        resolve_layer(model, 'fusion.fc9')
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "'fusion.fc9'" in msg and 'ToyFusion' in msg
    hint = msg.splitlines()[1]
    assert 'Did you mean:' in hint and "'fusion.fc1'" in hint
    valid = [name for name, _ in model.named_modules() if name]
    for name in valid:
        assert f'\n  {name}' in msg
    for bad in ('', 'fusion.act.weight', 'nothing'):
        with pytest.raises(LayerPathError):
            resolve_layer(model, bad)


def test_validate_reports_all():
    model = make_model()
    with pytest.raises(LayerPathError) as info:
        validate_layer_paths(
            model, ['fusion.fc1', 'fusion.fc3', 'image_trunk.conv7'])
    msg = str(info.value)
    assert '2 invalid' in msg
    assert "'fusion.fc3'" in msg and "'image_trunk.conv7'" in msg
    assert "'fusion.fc1' is not" not in msg
    ok = validate_layer_paths(model, ['fusion.fc1', 'audio'])
    assert ok == {'fusion.fc1': model.fusion.fc1, 'audio': model.audio}


def test_ddp_unwrapped(tmp_path):
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    try:
        from mmengine.model import MMDistributedDataParallel
        model = make_model()
        ddp = nn.parallel.DistributedDataParallel(model)
        assert resolve_layer(ddp, 'fusion.fc1') is model.fusion.fc1
        mmddp = MMDistributedDataParallel(module=make_model())
        assert resolve_layer(mmddp, 'audio') is mmddp.module.audio
        with pytest.raises(LayerPathError, match='ToyFusion'):
            resolve_layer(ddp, 'module.fusion.fc1')
    finally:
        dist.destroy_process_group()


# ---------------------------------------------------------------- shapes
def test_infer_feature_shapes_restores_state():
    model = make_model().train()
    model.fusion.drop.eval()  # a frozen-style submodule must stay in eval
    shapes = infer_feature_shapes(
        model, ['image_trunk.conv2', 'fusion.fc1', 'fusion'], **toy_inputs())
    assert shapes == {
        'image_trunk.conv2': torch.Size([6, 6, 6]),
        'fusion.fc1': torch.Size([12]),
        'fusion': torch.Size([5])
    }
    assert model.training and model.fusion.fc1.training
    assert not model.fusion.drop.training
    assert all(not m._forward_hooks for m in model.modules())
    # '' is the model's own output
    assert infer_feature_shapes(model, [''], **toy_inputs()) == {
        '': torch.Size([5])}
    with pytest.raises(LayerPathError):
        infer_feature_shapes(model, ['fusion.fc5'], **toy_inputs())


