import numpy as np
import pytest
import torch
import torch.nn as nn

from mstkd.models.mst import DenseGateNet, GateNet
from mstkd.registry import MODELS


def test_shapes_and_defaults():
    gate = GateNet(10, 4)
    assert gate.mlp[0].out_features == 20
    assert isinstance(gate.mlp[1], nn.ReLU)
    assert gate(torch.randn(3, 10)).shape == (3, 4)
    assert GateNet(10, 4, hidden_channels=7).mlp[0].out_features == 7


def test_route_eq12_eq13():
    torch.manual_seed(0)
    gate = GateNet(5, 6)
    logits = torch.randn(8, 5)
    probs, idx = gate.route(logits, k=2)
    scores = gate(logits).detach().numpy()
    e = np.exp(scores - scores.max(1, keepdims=True))
    np.testing.assert_allclose(probs.detach().numpy(),
                               e / e.sum(1, keepdims=True), rtol=1e-5)
    expected = np.argsort(-scores, axis=1)[:, :2]
    np.testing.assert_array_equal(idx.numpy(), expected)
    assert idx.shape == (8, 2)
    with pytest.raises(ValueError):
        gate.route(logits, k=7)


def test_no_activation_is_affine():
    torch.manual_seed(0)
    lin = GateNet(4, 3, act=None)
    assert isinstance(lin.mlp[1], nn.Identity)
    a, b = torch.randn(2, 4), torch.randn(2, 4)
    zero = torch.zeros(2, 4)
    torch.testing.assert_close(lin(a) + lin(b) - lin(zero), lin(a + b))
    relu = GateNet(4, 3, act='relu')
    assert not torch.allclose(
        relu(a) + relu(b) - relu(zero), relu(a + b), atol=1e-4)
    with pytest.raises(ValueError):
        GateNet(4, 3, act='swish')


def test_gradients():
    torch.manual_seed(0)
    gate = GateNet(5, 3)
    logits = torch.randn(4, 5, requires_grad=True)
    probs, _ = gate.route(logits, 1)
    (probs * torch.randn(4, 3)).sum().backward()
    assert logits.grad.abs().sum() > 0
    assert all(p.grad is not None for p in gate.parameters())


def test_dense_gate_pools():
    torch.manual_seed(0)
    dense = DenseGateNet(6, 3)
    gate = GateNet(6, 3)
    gate.load_state_dict(dense.state_dict())
    logits = torch.randn(2, 6, 4, 5)
    scores = dense(logits)
    assert scores.shape == (2, 3)
    torch.testing.assert_close(scores, gate(logits.mean((2, 3))))
    probs, idx = dense.route(logits, 2)
    assert probs.shape == (2, 3) and idx.shape == (2, 2)
    torch.testing.assert_close(dense(logits.mean((2, 3))), scores)


def test_registry():
    assert isinstance(
        MODELS.build(dict(type='GateNet', in_channels=3, num_teachers=2)),
        GateNet)
    assert isinstance(
        MODELS.build(dict(type='DenseGateNet', in_channels=3,
                          num_teachers=2)), DenseGateNet)
