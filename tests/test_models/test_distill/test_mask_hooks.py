from collections import OrderedDict

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn

from mstkd.models.distill import (ChunkedMaskHook, LayerPathError, MaskNet,
                                  attach_masknet,
                                  batched_specialized_forward,
                                  chunked_masked, infer_feature_shapes,
                                  masked, resolve_layer,
                                  validate_layer_paths)


class ToyFusion(nn.Module):
    """Two-branch late-fusion net: image CNN (+) audio MLP -> fusion MLP."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.image_trunk = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(1, 4, 3, padding=1),
                relu1=nn.ReLU(),
                conv2=nn.Conv2d(4, 6, 3, padding=1),
                relu2=nn.ReLU(),
                pool=nn.AdaptiveAvgPool2d(2),
                flat=nn.Flatten()))
        self.audio = nn.Linear(10, 8)
        self.fusion = nn.Sequential(
            OrderedDict(
                fc1=nn.Linear(6 * 4 + 8, 12),
                act=nn.ReLU(),
                drop=nn.Dropout(0.5),
                fc2=nn.Linear(12, num_classes)))

    def forward(self, image: torch.Tensor,
                audio: torch.Tensor) -> torch.Tensor:
        feat = torch.cat([self.image_trunk(image), self.audio(audio)], 1)
        return self.fusion(feat)


def toy_inputs(b: int = 3):
    return dict(image=torch.randn(b, 1, 6, 6), audio=torch.randn(b, 10))


def make_model():
    torch.manual_seed(0)
    return ToyFusion().eval()


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
    with pytest.raises(LayerPathError):
        infer_feature_shapes(model, ['fusion.fc5'], **toy_inputs())


# ---------------------------------------------------------------- hooks
def test_masked_context_and_cleanup():
    model = make_model()
    inputs = toy_inputs()
    torch.manual_seed(1)
    net = MaskNet(12, hidden_dim=4, num_heads=2)
    with torch.no_grad():
        plain = model(**inputs)
        with masked(model, {'fusion.fc1': net}) as handles:
            out = model(**inputs)
        assert len(handles) == 1
        # independent computation: mask fc1's output by hand
        feat = torch.cat(
            [model.image_trunk(inputs['image']),
             model.audio(inputs['audio'])], 1)
        h = net(model.fusion.fc1(feat))
        expected = model.fusion.fc2(model.fusion.act(h))
        torch.testing.assert_close(out, expected)
        assert not torch.allclose(out, plain)
        torch.testing.assert_close(model(**inputs), plain)
        with pytest.raises(RuntimeError, match='boom'):
            with masked(model, [('fusion.fc1', net), ('fusion.fc1', net)]):
                raise RuntimeError('boom')
        assert all(not m._forward_hooks for m in model.modules())
        torch.testing.assert_close(model(**inputs), plain)

        handle = attach_masknet(model, 'fusion.fc1', net)
        torch.testing.assert_close(model(**inputs), expected)
        handle.remove()
        torch.testing.assert_close(model(**inputs), plain)


def test_chunked_hook_touches_only_its_chunk():
    net = MaskNet(4, hidden_dim=2, num_heads=1)
    hook = ChunkedMaskHook(3, {1: net})
    x = torch.randn(6, 4)
    out = hook(nn.Identity(), (x, ), x)
    torch.testing.assert_close(out[:2], x[:2])
    torch.testing.assert_close(out[4:], x[4:])
    torch.testing.assert_close(out[2:4], net(x[2:4]))
    with pytest.raises(ValueError):
        hook(nn.Identity(), (x, ), torch.randn(5, 4))
    with pytest.raises(ValueError):
        ChunkedMaskHook(2, {2: net})


def _specs():
    torch.manual_seed(2)
    return [
        ('fusion.fc1', MaskNet(12, hidden_dim=4, num_heads=2)),
        ('image_trunk.conv2', MaskNet(6, hidden_dim=4, num_heads=2)),
        ('fusion.fc1', MaskNet(12, hidden_dim=6, num_heads=3)),  # same layer
        ('fusion.fc2', MaskNet(5, hidden_dim=2, num_heads=1)),
    ]


def test_batched_equals_separate_forwards():
    model = make_model()
    inputs = toy_inputs(4)
    specs = _specs()
    with torch.no_grad():
        batched = batched_specialized_forward(model, specs, inputs)
        separate = []
        for path, net in specs:
            with masked(model, {path: net}):
                separate.append(model(**inputs))
        plain = model(**inputs)
    assert batched.shape == (4, 4, 5)
    torch.testing.assert_close(batched, torch.stack(separate), atol=1e-5,
                               rtol=1e-5)
    for j in range(4):  # every specialized teacher differs from the base
        assert not torch.allclose(batched[j], plain, atol=1e-4)
    assert all(not m._forward_hooks for m in model.modules())


def test_batched_gradients_match_separate():
    model = make_model().requires_grad_(False)
    inputs = toy_inputs(2)
    specs = _specs()
    target = torch.randn(len(specs), 2, 5)
    (batched_specialized_forward(model, specs, inputs) *
     target).sum().backward()
    batched_grads = [[p.grad.clone() for p in net.parameters()]
                     for _, net in specs]
    for j, (path, net) in enumerate(specs):
        net.zero_grad()
        with masked(model, {path: net}):
            (model(**inputs) * target[j]).sum().backward()
        for gb, p in zip(batched_grads[j], net.parameters()):
            torch.testing.assert_close(gb, p.grad, atol=1e-5, rtol=1e-4)


def test_batched_tensor_input_single_mask():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 7, 3)).eval()
    x = torch.randn(5, 2, 7)
    net = MaskNet(4, hidden_dim=2, num_heads=2)
    with torch.no_grad():
        out = batched_specialized_forward(model, [('0', net)], x)
        with masked(model, {'0': net}):
            ref = model(x)
    assert out.shape == (1, 5, 3)
    torch.testing.assert_close(out[0], ref, atol=1e-5, rtol=1e-5)
    with chunked_masked(model, [('0', net), ('3', MaskNet(3, 2, 1))]) as h:
        assert len(h) == 2
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError):
        batched_specialized_forward(model, [], x)
