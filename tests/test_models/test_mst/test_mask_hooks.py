"""MaskNet hooks: the chunked hook, the batched forward of K specialized
teachers against K separate forwards with one MaskNet each (Eq. 9), their
gradients, and hook removal."""
import pytest
import torch
import torch.nn as nn

from mstkd.models.mst import (ChunkedMaskHook, MaskNet,
                              batched_specialized_forward, chunked_masked)
from tests.helpers import make_toy_fusion as make_model
from tests.helpers import masked, toy_inputs


# ---------------------------------------------------------------- hooks
def test_chunked_masked_single_and_cleanup():
    model = make_model()
    inputs = toy_inputs()
    torch.manual_seed(1)
    net = MaskNet(12, hidden_dim=4, num_heads=2)
    with torch.no_grad():
        plain = model(**inputs)
        with chunked_masked(model, [('fusion.fc1', net)]) as handles:
            out = model(**inputs)  # K = 1: the plain masked teacher
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
            with chunked_masked(model, [('fusion.fc1', net),
                                        ('fusion.fc1', net)]):
                raise RuntimeError('boom')
        assert all(not m._forward_hooks for m in model.modules())
        torch.testing.assert_close(model(**inputs), plain)


def test_stacked_masks_chain_earlier_masknets():
    """reference_compat.stacked_masks: chunk j runs MaskNets 0..j."""
    model = make_model()
    inputs = toy_inputs(2)
    specs = _specs()
    with torch.no_grad():
        stacked = batched_specialized_forward(model, specs, inputs,
                                              stacked=True)
        for j in range(len(specs)):
            with masked(model, specs[:j + 1]):
                ref = model(**inputs)
            torch.testing.assert_close(stacked[j], ref, atol=1e-5,
                                       rtol=1e-5)


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
