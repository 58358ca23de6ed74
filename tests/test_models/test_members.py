import pytest
import torch

from mstkd.models import CNN2d, LateFusionNet, LeNet5
from mstkd.models.distill import infer_feature_shapes


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
