import math

import pytest
import torch

from mstkd.models.mst import MaskNet, default_hidden_dim
from mstkd.registry import MODELS


def manual_mask(net: MaskNet, z: torch.Tensor) -> torch.Tensor:
    """Eq. 6 written out with explicit tensor ops from the net's weights."""
    d, h, heads = net.in_channels, net.hidden_dim, net.num_heads
    if net.projector_type == 'full':
        tokens = (z @ net.projector.weight.T + net.projector.bias).reshape(
            -1, d, h)
    else:
        tokens = z[:, :, None] * net.proj_scale + net.proj_bias
    w_q, w_k, w_v = net.attn.in_proj_weight.chunk(3)
    b_q, b_k, b_v = net.attn.in_proj_bias.chunk(3)
    hd = h // heads

    def split(t):  # (B, d, h) -> (B, heads, d, hd)
        return t.reshape(-1, d, heads, hd).transpose(1, 2)

    q = split(tokens @ w_q.T + b_q)
    k = split(tokens @ w_k.T + b_k)
    v = split(tokens @ w_v.T + b_v)
    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
    mixed = (att @ v).transpose(1, 2).reshape(-1, d, h)
    mixed = mixed @ net.attn.out_proj.weight.T + net.attn.out_proj.bias
    logit = mixed @ net.fc.weight.T + net.fc.bias
    return torch.sigmoid(logit[..., 0])


@pytest.mark.parametrize('projector', ['full', 'light'])
def test_mask_matches_eq6(projector):
    torch.manual_seed(0)
    net = MaskNet(10, hidden_dim=6, num_heads=3, projector=projector)
    x = torch.randn(4, 10)
    mask = net.mask(x)
    assert mask.shape == (4, 10)
    assert ((mask > 0) & (mask < 1)).all()
    torch.testing.assert_close(mask, manual_mask(net, x), atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(net(x), mask * x)


def test_light_is_block_diagonal_full():
    torch.manual_seed(0)
    d, h = 7, 4
    light = MaskNet(d, hidden_dim=h, num_heads=2, projector='light')
    full = MaskNet(d, hidden_dim=h, num_heads=2, projector='full')
    full.attn.load_state_dict(light.attn.state_dict())
    full.fc.load_state_dict(light.fc.state_dict())
    weight = torch.zeros(d * h, d)
    for i in range(d):
        weight[i * h:(i + 1) * h, i] = light.proj_scale.data[i]
    full.projector.weight.data.copy_(weight)
    full.projector.bias.data.copy_(light.proj_bias.data.flatten())
    x = torch.randn(3, d)
    torch.testing.assert_close(full(x), light(x), atol=1e-6, rtol=1e-5)
    assert light.proj_scale.numel() + light.proj_bias.numel() == 2 * d * h


def test_default_hidden_dim():
    assert default_hidden_dim(596, 3) == 297
    assert default_hidden_dim(320, 3) == 159
    assert default_hidden_dim(2, 3) == 3
    assert MaskNet(160).hidden_dim == 78
    assert MaskNet(84, num_heads=4).hidden_dim == 40


def test_invalid_config():
    with pytest.raises(ValueError, match='divisible'):
        MaskNet(10, hidden_dim=5, num_heads=3)
    with pytest.raises(ValueError, match='projector'):
        MaskNet(10, projector='tiny')
    with pytest.raises(ValueError, match=r'\(B, 10'):
        MaskNet(10, hidden_dim=3)(torch.randn(2, 11))


@pytest.mark.parametrize('spatial', [(5, ), (3, 4), (2, 2, 2)])
def test_feature_maps(spatial):
    torch.manual_seed(0)
    net = MaskNet(6, hidden_dim=4, num_heads=2)
    x = torch.randn(3, 6, *spatial)
    pooled = x.reshape(3, 6, -1).mean(-1)
    mask = net.mask(x)
    torch.testing.assert_close(mask, net.mask(pooled))
    out = net(x)
    assert out.shape == x.shape
    expected = x * mask.reshape(3, 6, *([1] * len(spatial)))
    torch.testing.assert_close(out, expected)


def test_unit_spatial_is_vector():
    torch.manual_seed(0)
    net = MaskNet(120, hidden_dim=6, num_heads=3)
    x = torch.randn(2, 120, 1, 1)
    torch.testing.assert_close(net(x).flatten(1), net(x.flatten(1)))


def test_gradients_reach_all_parameters():
    torch.manual_seed(0)
    for projector in ('full', 'light'):
        net = MaskNet(8, hidden_dim=4, num_heads=2, projector=projector)
        x = torch.randn(5, 8, 3, 3, requires_grad=True)
        net(x).pow(2).sum().backward()
        for name, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        assert x.grad.abs().sum() > 0


def test_full_projector_parameter_count():
    d, h = 596, 298
    with torch.device('meta'):
        net = MaskNet(d, hidden_dim=h, num_heads=2)
    proj = sum(p.numel() for p in net.projector.parameters())
    assert proj == d * d * h + d * h == 105_854_368 + 177_608
    attn = sum(p.numel() for p in net.attn.parameters())
    assert attn == 4 * h * h + 4 * h
    fc = sum(p.numel() for p in net.fc.parameters())
    assert fc == h + 1
    assert sum(p.numel() for p in net.parameters()) == proj + attn + fc
    with torch.device('meta'):
        light = MaskNet(d, hidden_dim=h, num_heads=2, projector='light')
    assert sum(p.numel() for p in light.parameters()) == \
        2 * d * h + attn + fc


def test_registry_build():
    net = MODELS.build(
        dict(type='MaskNet', in_channels=12, projector='light'))
    assert isinstance(net, MaskNet)
    assert net.hidden_dim == 6 and net.projector_type == 'light'
    # the built module masks: output = mask * input, mask in (0, 1)
    x = torch.ones(1, 12)
    mask = net.mask(x)
    assert mask.shape == (1, 12) and ((mask > 0) & (mask < 1)).all()
    torch.testing.assert_close(net(x), mask * x)


@pytest.mark.parametrize('projector, shape, heads', [
    ('full', (5, 24), 3), ('light', (5, 24), 3), ('full', (4, 12, 3, 3), 2),
    ('full', (3, 9), 1)])
@pytest.mark.parametrize('training', [True, False])
def test_folded_readout_same_function_and_gradients(projector, shape, heads,
                                                    training):
    """folded_readout computes the same mask and the same gradient of every
    parameter as the nn.MultiheadAttention path (float64: rounding
    aside, exactly), and its state dict is the plain MaskNet's."""
    torch.manual_seed(0)
    plain = MaskNet(shape[1], num_heads=heads, projector=projector).double()
    folded = MaskNet(shape[1], num_heads=heads, projector=projector,
                     folded_readout=True).double()
    folded.load_state_dict(plain.state_dict())
    assert folded.state_dict().keys() == plain.state_dict().keys()
    plain.train(training)
    folded.train(training)
    x = torch.randn(*shape, dtype=torch.float64)
    weights = torch.randn(*shape, dtype=torch.float64)
    outs = []
    for net in (plain, folded):
        out = net(x)
        (out * weights).sum().backward()
        outs.append(out)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-10, atol=1e-12)
    for (name, a), b in zip(plain.named_parameters(), folded.parameters()):
        assert b.grad is not None and b.grad.abs().sum() > 0, name
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-9, atol=1e-12,
                                   msg=name)


def test_folded_readout_runs_the_fused_attention_kernel():
    """The zero-padded scalar values keep the flash kernel (no L x L
    scores): with 1-wide values SDPA would fall back to the math path."""
    net = MaskNet(24, num_heads=3, folded_readout=True)
    with torch.profiler.profile() as prof:
        net(torch.randn(4, 24)).sum().backward()
    kernels = {e.key for e in prof.key_averages()}
    assert any('flash_attention' in k for k in kernels), sorted(kernels)
    assert '_scaled_dot_product_attention_math' not in ' '.join(kernels)
