"""The members of the paper's Table 5 for AV-MNIST, RAVDESS, VGGSound-50k
and CrisisMMD-V2, built from their base model configs: output shapes at the
real input sizes, the layer widths the reference MaskNets expect
(DATA_FORMATS), gradients, headless variants."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mstkd.models import CNN1d, CNN3d
from mstkd.models.task_modules import infer_feature_shapes
from mstkd.registry import MODELS
from mstkd.utils.errors import UserInputError
from tests.helpers import REPO

# dataset -> (base model config, member variable -> (modality, item shape),
#             classes)
DATASETS = {
    'av_mnist': ('av_mnist_members.py',
                 dict(image_member=('image', (1, 28, 28)),
                      audio_member=('audio', (1, 112, 112))), 10),
    # video at a reduced 32x32 (224x224 is checked once below)
    'ravdess': ('ravdess_members.py',
                dict(video_member=('video', (3, 15, 32, 32)),
                     audio_member=('audio', (15, 156))), 8),
    'vggsound50k': ('vggsound50k_members.py',
                    dict(visual_member=('visual', (512, 10, 7, 7)),
                         audio_member=('audio', (128, 10))), 141),
    'crisismmd': ('crisismmd_members.py',
                  dict(image_member=('image', (2048, )),
                       text_member=('text', (768, ))), 8),
}

# MaskNet layers of the reference runs (DATA_FORMATS) -> feature shapes
UNIMODAL_LAYERS = {
    ('av_mnist', 'image_member'): {'conv3': (120, 1, 1), 'fc1': (84, )},
    ('av_mnist', 'audio_member'): {'conv2': (64, 56, 56),
                                   'conv3': (128, 28, 28)},
    ('ravdess', 'video_member'): {'fc1': (320, ), 'fc2': (160, )},
    ('ravdess', 'audio_member'): {'fc1': (320, ), 'fc2': (160, )},
    ('vggsound50k', 'visual_member'): {'fc1': (320, ), 'fc2': (160, )},
    ('vggsound50k', 'audio_member'): {'fc1': (320, ), 'fc2': (160, )},
    ('crisismmd', 'image_member'): {'fc1': (1024, ), 'fc2': (512, )},
    ('crisismmd', 'text_member'): {'fc1': (1024, ), 'fc2': (512, )},
}
FUSION_LAYERS = {
    'av_mnist': {'fusion.concat': (596, ), 'fusion.fc1': (298, )},
    # 18,816 (video) + 1,280 (audio), the release's fc1 input
    'ravdess': {'fusion.concat': (20096, ), 'fusion.fc1': (320, ),
                'fusion.fc2': (160, )},
    'vggsound50k': {'fusion.concat': (384, ), 'fusion.fc1': (320, ),
                    'fusion.fc2': (160, )},
    'crisismmd': {'fusion.concat': (1024, ), 'fusion.fc1': (512, ),
                  'fusion.fc2': (256, )},
}


def _cfg(dataset):
    return Config.fromfile(
        osp.join(REPO, 'configs/_base_/models', DATASETS[dataset][0]))


def _inputs(dataset, batch=2):
    return {mod: torch.rand(batch, *shape)
            for mod, shape in DATASETS[dataset][1].values()}


def _check_grads(net, out):
    F.cross_entropy(out, torch.arange(out.shape[0]) % out.shape[1]).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('dataset,var', sorted(UNIMODAL_LAYERS))
def test_unimodal_members(dataset, var):
    cfg = _cfg(dataset)
    net = MODELS.build(cfg[var])
    inputs = _inputs(dataset)
    modality, shape = DATASETS[dataset][1][var]
    assert net.modality == modality
    out = net(inputs)  # reads its own modality from the batch dict
    assert out.shape == (2, DATASETS[dataset][2])
    assert torch.equal(net(inputs[modality]), out)
    shapes = infer_feature_shapes(net, list(UNIMODAL_LAYERS[dataset, var]),
                                  inputs)
    assert shapes == UNIMODAL_LAYERS[dataset, var]
    _check_grads(net, net(inputs))

    # headless (the late-fusion encoders): the net without its head
    headless = MODELS.build(dict(cfg[var], with_head=False)).eval()
    assert headless(inputs).shape == (2, headless.out_channels)
    names, full_names = (set(dict(m.named_modules()))
                         for m in (headless, net))
    assert names < full_names
    missing, unexpected = headless.load_state_dict(net.state_dict(),
                                                   strict=False)
    assert not missing and unexpected


@pytest.mark.parametrize('dataset', sorted(DATASETS))
def test_fusion_members(dataset):
    net = MODELS.build(_cfg(dataset).fusion_member)
    inputs = _inputs(dataset, batch=3)
    out = net(inputs)
    assert out.shape == (3, DATASETS[dataset][2])
    shapes = infer_feature_shapes(net, list(FUSION_LAYERS[dataset]), inputs)
    assert shapes == FUSION_LAYERS[dataset]
    # the fused width is the sum of the headless encoders' out_channels
    assert sum(e.out_channels for e in net.encoders.values()) == \
        FUSION_LAYERS[dataset]['fusion.concat'][0]
    _check_grads(net, net(inputs))


def test_cnn3d_ravdess_full_size_matches_release_flatten():
    """At 224x224 the last map is 24x1x28x28 and fc1 reads it flattened
    (18,816 features): the grid pool is the identity there."""
    net = CNN3d().eval()
    assert net.fc1.in_features == 24 * 1 * 28 * 28
    x = torch.rand(1, 3, 15, 224, 224)
    maps = {}
    net.bn3.register_forward_hook(lambda m, i, o: maps.setdefault('bn3', o))
    with torch.no_grad():
        feat = net.extract(x)
        assert tuple(maps['bn3'].shape[1:]) == (24, 3, 56, 56)
        expected = F.max_pool3d(F.relu(maps['bn3']), 2).flatten(1)
        torch.testing.assert_close(feat, expected, rtol=0, atol=0)
        assert net(x).shape == (1, 8)


def test_cnn3d_tiny_video_and_errors():
    net = CNN3d()
    # tests' tiny RAVDESS frames: 15 x 16 x 16 -> last map 1 x 2 x 2
    out = net(torch.rand(2, 3, 15, 16, 16))
    assert out.shape == (2, 8)
    with pytest.raises(UserInputError, match='too small'):
        net(torch.rand(2, 3, 15, 4, 4))
    with pytest.raises(UserInputError, match=r'\[B, 3, <3 dims>\]'):
        net(torch.rand(2, 15, 3, 16, 16))  # frames first: wrong layout


def test_cnn1d_release_layouts():
    net = CNN1d().eval()
    assert net.fc1.in_features == 256 * 5  # RAVDESS 156 -> 52 -> 17 -> 5
    x = torch.rand(3, 15, 156)
    with torch.no_grad():
        # the release's AudioBranch: pool(relu(bn(conv(x)))) x 3, flatten
        ref = x
        for i in (1, 2, 3):
            ref = getattr(net, f'bn{i}')(getattr(net, f'conv{i}')(ref))
            ref = F.max_pool1d(F.relu(ref), 3)
        assert ref.shape[1:] == (256, 5)
        torch.testing.assert_close(net.extract(x), ref.flatten(1))

    # VGGSound: [128 dims, 10 s] read as 10 channels over 128 dims
    vgg = CNN1d(in_channels=10, channels=(16, 32, 64), pool_size=4,
                num_classes=141, transpose_input=True).eval()
    plain = CNN1d(in_channels=10, channels=(16, 32, 64), pool_size=4,
                  num_classes=141).eval()
    plain.load_state_dict(vgg.state_dict())
    x = torch.rand(2, 128, 10)
    with torch.no_grad():
        torch.testing.assert_close(vgg(x), plain(x.transpose(1, 2)))
    assert vgg.fc1.in_features == 64 * 4  # 128 -> 42 -> 14 -> 4
    with pytest.raises(UserInputError, match='transpose_input'):
        vgg(torch.rand(2, 10, 128))


def test_no_norm_and_pool_size_options():
    net = CNN3d(norm=False, pool_size=2, with_head=False)
    assert not hasattr(net, 'bn1')
    assert net(torch.rand(2, 3, 15, 16, 16)).shape == (2, 24 * 8)
    with pytest.raises(UserInputError, match='pool_size needs 3 values'):
        CNN3d(pool_size=(1, 2))
