import pytest
import torch

from mstkd.models import CNN2d, LateFusionNet, LeNet5
from mstkd.models.task_modules import infer_feature_shapes


def test_lenet5_layers_and_shapes():
    net = LeNet5()
    x = torch.rand(4, 1, 28, 28)
    assert net(x).shape == (4, 10)
    assert torch.equal(net(dict(image=x, audio=torch.zeros(1))), net(x))
    shapes = infer_feature_shapes(net, ['conv3', 'fc1'], x)
    assert shapes == {'conv3': (120, 1, 1), 'fc1': (84, )}
    headless = LeNet5(with_head=False)
    assert headless(x).shape == (4, 84) and (headless(x) >= 0).all()
    with pytest.raises(KeyError, match='reads modality "image"'):
        net(dict(audio=x))


def test_cnn2d_paper_shapes_and_stem():
    # The paper's AV-MNIST audio member: conv2 64x56x56, conv3 128x28x28.
    net = CNN2d(channels=(32, 64, 128))
    x = torch.rand(2, 1, 112, 112)
    shapes = infer_feature_shapes(net, ['conv2', 'conv3'], x)
    assert shapes == {'conv2': (64, 56, 56), 'conv3': (128, 28, 28)}
    assert net(x).shape == (2, 10)
    small = CNN2d(channels=(16, 32, 64), stem_stride=2)
    assert infer_feature_shapes(small, ['conv2'], x)['conv2'] == (32, 28, 28)
    five = CNN2d(channels=(32, 64, 128, 256, 512), pool_last=True,
                 with_head=False)
    assert five(x).shape == (2, 512)
    assert not hasattr(five, 'fc')


def test_late_fusion_layer_paths():
    net = LateFusionNet(
        encoders=dict(image=dict(type='LeNet5'),
                      audio=dict(type='CNN2d',
                                 channels=(32, 64, 128, 256, 512),
                                 pool_last=True)),
        hidden_channels=(298, ))
    inputs = dict(image=torch.rand(3, 1, 28, 28),
                  audio=torch.rand(3, 1, 112, 112))
    assert net(inputs).shape == (3, 10)
    shapes = infer_feature_shapes(
        net, ['fusion.concat', 'fusion.fc1', 'encoders.audio.conv5'], inputs)
    # the paper's AV-MNIST multimodal teacher: 596-d fused, fc1 298
    assert shapes['fusion.concat'] == (596, )
    assert shapes['fusion.fc1'] == (298, )
    assert net.modalities == ('image', 'audio')
    # the fused feature really is the concatenation of both encoders
    feats = {}
    net.fusion.concat.register_forward_hook(
        lambda m, i, o: feats.setdefault('cat', o))
    net(inputs)
    expected = torch.cat([net.encoders['image'](inputs),
                          net.encoders['audio'](inputs)], 1)
    torch.testing.assert_close(feats['cat'], expected)


def test_lenet5_average_subsampling_switch():
    """pool='avg' (the release's LeNet5) subsamples by 2x2 averaging."""
    import torch.nn.functional as F
    from mstkd.models import LeNet5
    torch.manual_seed(0)
    net = LeNet5(pool='avg').eval()
    ref = LeNet5().eval()
    ref.load_state_dict(net.state_dict())
    x = torch.rand(3, 1, 28, 28)
    h = F.avg_pool2d(F.relu(net.conv1(x)), 2)
    h = F.avg_pool2d(F.relu(net.conv2(h)), 2)
    h = F.relu(net.fc1(F.relu(net.conv3(h)).flatten(1)))
    assert torch.allclose(net(x), net.fc2(h), atol=1e-6)
    assert not torch.allclose(net(x), ref(x))
    with pytest.raises(ValueError, match="'max' or 'avg'"):
        LeNet5(pool='min')


def test_fusion_mlp_without_hidden_activation():
    """hidden_act=False: fc2(fc1(concat)) with no ReLU in between (the
    release's AV-MNIST fusion MLP)."""
    from mstkd.models import LateFusionNet
    torch.manual_seed(0)
    cfg = dict(encoders=dict(image=dict(type='LeNet5')),
               hidden_channels=(7, ), num_classes=3)
    net = LateFusionNet(**cfg, hidden_act=False).eval()
    x = dict(image=torch.rand(4, 1, 28, 28))
    feat = net.encoders['image'](x)
    expect = net.fusion.fc2(net.fusion.fc1(feat))
    assert torch.allclose(net(x), expect, atol=1e-6)
    with_act = LateFusionNet(**cfg).eval()
    with_act.load_state_dict(net.state_dict())
    assert not torch.allclose(with_act(x), net(x))
