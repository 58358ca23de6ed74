"""FuseNet segmentors: shapes, fusion, unpooling, modes, initialisation."""
import logging
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mstkd.models.task_modules import infer_feature_shapes
from mstkd.models.segmentors import (FuseNet, FuseNetBranch, UnpoolBlock,
                                     VGGEncoder)
from mstkd.registry import MODELS
from mstkd.utils.errors import DataNotFoundError, UserInputError
from tests.helpers import REPO

TINY = dict(channels=(4, 8, 8, 16, 16), num_classes=5)
BASE_CFG = osp.join(REPO, 'configs/_base_/models/fusenet.py')


def build(kind='fusion', **kwargs):
    cfg = dict(TINY, **kwargs)
    if kind == 'fusion':
        return FuseNet(**cfg)
    return FuseNetBranch(modality=kind, **cfg)


def samples_with_labels(labels):
    return [
        SegDataSample(gt_sem_seg=PixelData(data=lab[None]),
                      metainfo=dict(ori_shape=tuple(lab.shape)))
        for lab in labels
    ]


def capture_outputs(model, paths):
    outs, handles = {}, []
    for path in paths:
        handles.append(model.get_submodule(path).register_forward_hook(
            lambda m, a, o, p=path: outs.__setitem__(p, o.detach().clone())))
    return outs, handles


def vgg16_bn_features_state_dict(batch_norm=True):
    """A random torchvision VGG16(-BN) state dict in torchvision's own key
    layout (``features.N.*``), built from torchvision's VGG16 layer list
    without the 102 M-parameter classifier."""
    from torchvision.models.vgg import cfgs, make_layers
    features = make_layers(cfgs['D'], batch_norm=batch_norm)
    state = {}
    for key, value in features.state_dict().items():
        if key.endswith('running_mean'):
            value = torch.randn_like(value)
        elif key.endswith('running_var'):
            value = torch.rand_like(value) + 0.5
        elif key.endswith('num_batches_tracked'):
            value = torch.tensor(7)
        elif value.is_floating_point():
            value = torch.randn_like(value)
        state[f'features.{key}'] = value
    state['classifier.6.bias'] = torch.zeros(1000)  # not used
    return state


@pytest.mark.parametrize('kind', ['fusion', 'rgb', 'depth'])
def test_logits_shape_and_attributes(kind):
    model = build(kind)
    x = torch.rand(2, 4, 64, 96)
    logits = model(x)  # mode 'tensor' by default
    assert logits.shape == (2, 5, 64, 96)
    assert model.num_classes == model.out_channels == 5
    assert model.align_corners is False
    expected = {'fusion': ('rgb', 'depth'), 'rgb': ('rgb', ),
                'depth': ('depth', )}[kind]
    assert model.modalities == expected
    model.eval()
    assert torch.equal(model(x, mode='tensor'), model(x))
    # sizes that are not multiples of 32 unpool back to the exact size
    assert model(torch.rand(1, 4, 33, 47)).shape == (1, 5, 33, 47)
    with pytest.raises(UserInputError, match='RGB-D tensor'):
        model(torch.rand(1, 2, 32, 32))


def test_named_layer_shapes_tiny():
    x = torch.rand(1, 4, 64, 64)
    fusion = build('fusion')
    enc = {f'{e}.block{i}': (TINY['channels'][i - 1], 64 >> (i - 1),
                             64 >> (i - 1))
           for e in ('rgb_encoder', 'depth_encoder', 'fusion')
           for i in range(1, 6)}
    dec = {'bottleneck': (16, 2, 2), 'decoder.block1': (16, 4, 4),
           'decoder.block2': (8, 8, 8), 'decoder.block3': (8, 16, 16),
           'decoder.block4': (4, 32, 32), 'decoder.block5': (4, 64, 64),
           'decoder.classifier': (5, 64, 64)}
    shapes = infer_feature_shapes(fusion, list(enc) + list(dec), x)
    assert {k: tuple(v) for k, v in shapes.items()} == {**enc, **dec}
    branch = build('depth')
    paths = ['encoder.block5', 'bottleneck', 'decoder.block1']
    shapes = infer_feature_shapes(branch, paths, x)
    assert [tuple(shapes[p]) for p in paths] == [(16, 4, 4), (16, 2, 2),
                                                 (16, 4, 4)]


def test_named_layer_shapes_full_size_paper():
    """The paper's MaskNet layers at 480 x 640 (meta tensors: no compute)."""
    x = torch.empty(1, 4, 480, 640, device='meta')
    with torch.device('meta'):
        fusion, rgb = FuseNet(), FuseNetBranch(modality='rgb')
    shapes = infer_feature_shapes(fusion, ['bottleneck', 'decoder.block1'], x)
    assert shapes == {'bottleneck': (512, 15, 20),
                      'decoder.block1': (512, 30, 40)}
    shapes = infer_feature_shapes(rgb, ['encoder.block5', 'decoder.block1',
                                        'decoder.classifier'], x)
    assert shapes == {'encoder.block5': (512, 30, 40),
                      'decoder.block1': (512, 30, 40),
                      'decoder.classifier': (40, 480, 640)}


def test_unpool_block_hand_example():
    x = torch.tensor([[[[1., 2., 0., 0.], [3., 0., 0., 9.],
                        [0., 0., 4., 0.], [5., 0., 0., 1.]]]])
    pooled, idx = F.max_pool2d(x, 2, 2, return_indices=True)
    assert pooled.flatten().tolist() == [3., 9., 5., 4.]
    out = UnpoolBlock(1, [], None)(pooled, idx, x.shape[-2:])
    expected = torch.tensor([[[[0., 0., 0., 0.], [3., 0., 0., 9.],
                               [0., 0., 4., 0.], [5., 0., 0., 0.]]]])
    assert torch.equal(out, expected)
    # and the same as F.max_unpool2d on random data, odd size included
    y = torch.randn(2, 3, 9, 7)
    pooled, idx = F.max_pool2d(y, 2, 2, return_indices=True)
    out = UnpoolBlock(3, [], None)(pooled, idx, y.shape[-2:])
    assert torch.equal(out, F.max_unpool2d(pooled, idx, 2, 2,
                                           output_size=y.shape[-2:]))


def test_fusion_decoder_unpools_with_fused_indices():
    model = build('fusion').eval()
    x = torch.rand(2, 4, 32, 64)
    paths = [f'{s}.block{i}' for s in ('fusion', 'depth_encoder')
             for i in range(1, 6)]
    outs, handles = capture_outputs(model, paths)
    used = {}
    for k in range(1, 6):
        handles.append(model.decoder.get_submodule(
            f'block{k}').register_forward_pre_hook(
                lambda m, args, k=k: used.__setitem__(k, args[1].clone())))
    model(x)
    for h in handles:
        h.remove()
    for i in range(1, 6):
        _, fused_idx = F.max_pool2d(outs[f'fusion.block{i}'], 2, 2,
                                    return_indices=True)
        assert torch.equal(used[6 - i], fused_idx)  # block 1 <- stage 5
    _, depth_idx = F.max_pool2d(outs['depth_encoder.block1'], 2, 2,
                                return_indices=True)
    assert not torch.equal(used[5], depth_idx)


def test_depth_stream_is_summed_into_rgb_stream():
    model = build('fusion').eval()
    x = torch.rand(2, 4, 32, 32)
    paths = [f'{s}.block{i}' for s in ('fusion', 'rgb_encoder',
                                       'depth_encoder')
             for i in range(1, 6)]
    outs, handles = capture_outputs(model, paths)
    logits = model(x)
    for i in range(1, 6):
        torch.testing.assert_close(
            outs[f'fusion.block{i}'],
            outs[f'rgb_encoder.block{i}'] + outs[f'depth_encoder.block{i}'])
        assert outs[f'depth_encoder.block{i}'].abs().sum() > 0
    # the depth channel changes the fused features and the logits
    x2 = x.clone()
    x2[:, 3] = torch.rand(2, 32, 32)
    fused1 = outs['fusion.block1']
    assert not torch.allclose(model(x2), logits)
    assert not torch.allclose(outs['fusion.block1'], fused1)
    # with the depth encoder's weights zeroed, fused == RGB stream
    with torch.no_grad():
        for p in model.depth_encoder.parameters():
            p.zero_()
    model(x)
    for h in handles:
        h.remove()
    for i in range(1, 6):
        assert torch.equal(outs[f'fusion.block{i}'],
                           outs[f'rgb_encoder.block{i}'])
    # 'mean' fusion (the public release) halves the sum
    mean_model = build('fusion', fusion='mean')
    assert torch.equal(mean_model.fusion.block1(torch.ones(1), torch.ones(1)),
                       torch.ones(1))
    with pytest.raises(UserInputError, match="fusion must be 'sum'"):
        build('fusion', fusion='concat')


def test_loss_gradient_reaches_both_encoders():
    model = build('fusion').train()
    x = torch.rand(2, 4, 32, 32)
    labels = torch.randint(0, 5, (2, 32, 32))
    losses = model(x, samples_with_labels(labels), mode='loss')
    assert set(losses) == {'loss_ce', 'acc_seg'}
    losses['loss_ce'].backward()
    for enc in (model.rgb_encoder, model.depth_encoder):
        for i in range(1, 6):
            grad = enc.block(i)[0].conv.weight.grad
            assert grad is not None and grad.abs().sum() > 0
    assert model.decoder.classifier.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('kind,own,other', [('rgb', [0, 1, 2], [3]),
                                            ('depth', [3], [0, 1, 2])])
def test_branch_reads_only_its_channels(kind, own, other):
    model = build(kind).eval()
    x = torch.rand(1, 4, 32, 32)
    logits = model(x)
    changed_other = x.clone()
    changed_other[:, other] = torch.rand(1, len(other), 32, 32)
    assert torch.equal(model(changed_other), logits)
    changed_own = x.clone()
    changed_own[:, own[0]] = torch.rand(32, 32)
    assert not torch.allclose(model(changed_own), logits)
    # the branch also takes its modality alone
    assert torch.equal(model(x[:, own]), logits)


def test_loss_ignores_void_pixels():
    model = build('rgb')
    logits = torch.randn(2, 5, 16, 16)
    labels = torch.randint(0, 5, (2, 16, 16))
    labels[:, :4] = 255
    samples = samples_with_labels(labels)
    loss = model.loss_by_feat(logits, samples)['loss_ce']
    torch.testing.assert_close(
        loss, F.cross_entropy(logits, labels, ignore_index=255))
    void = (labels == 255).unsqueeze(1).expand_as(logits)
    changed = torch.where(void, torch.randn_like(logits) * 10, logits)
    assert torch.equal(model.loss_by_feat(changed, samples)['loss_ce'], loss)
    changed_valid = torch.where(void, logits, torch.randn_like(logits))
    assert model.loss_by_feat(changed_valid, samples)['loss_ce'] != loss
    # logits at another size are resized to the labels
    small = model.loss_by_feat(torch.randn(2, 5, 8, 8), samples)['loss_ce']
    assert torch.isfinite(small)
    with pytest.raises(UserInputError, match='gt_sem_seg'):
        model.loss_by_feat(logits, [SegDataSample()] * 2)


def test_predict_mode_returns_seg_data_samples():
    model = build('fusion').eval()
    x = torch.rand(2, 4, 32, 64)
    logits = model(x)
    for samples in (None, samples_with_labels(torch.zeros(2, 32, 64,
                                                          dtype=torch.long))):
        out = model(x, samples, mode='predict')
        assert len(out) == 2 and all(isinstance(s, SegDataSample)
                                     for s in out)
        for i, sample in enumerate(out):
            assert sample.pred_sem_seg.data.shape == (1, 32, 64)
            assert sample.seg_logits.data.shape == (5, 32, 64)
            assert torch.equal(sample.pred_sem_seg.data[0],
                               logits[i].argmax(0))


def test_config_members_with_seg_data_preprocessor():
    """The base config's members build in mstkd's and mmseg's registries;
    the data preprocessor pads to 32 and predictions come back unpadded."""
    import mmseg.registry
    assert mmseg.registry.MODELS.get('FuseNet') is FuseNet
    assert mmseg.registry.MODELS.get('FuseNetBranch') is FuseNetBranch
    cfg = Config.fromfile(BASE_CFG)
    assert cfg.num_classes == 40 and cfg.vgg16_checkpoint is None
    assert cfg.fusenet_data_preprocessor.size_divisor == 32
    built = {}
    for key in ('fusion_member', 'rgb_member', 'depth_member'):
        member = dict(cfg[key], channels=TINY['channels'])
        built[key] = MODELS.build(member)
    assert isinstance(built['fusion_member'], FuseNet)
    assert built['depth_member'].modalities == ('depth', )
    model = built['rgb_member']
    assert type(model.data_preprocessor).__name__ == 'SegDataPreProcessor'
    labels = torch.randint(0, 40, (2, 60, 50))
    samples = samples_with_labels(labels)
    data = dict(inputs=[torch.rand(4, 60, 50) for _ in range(2)],
                data_samples=samples)
    batch = model.data_preprocessor(data, training=True)
    assert batch['inputs'].shape == (2, 4, 64, 64)
    pad = batch['data_samples'][0].gt_sem_seg.data
    assert pad.shape == (1, 64, 64) and (pad[:, 60:] == 255).all()
    losses = model(**batch, mode='loss')
    assert torch.isfinite(losses['loss_ce'])
    model.eval()
    seen = []
    handle = model.decoder.classifier.register_forward_hook(
        lambda m, a, o: seen.append(o.shape))
    preds = model.val_step(data)  # padded to 64 x 64, cropped back
    handle.remove()
    assert seen == [(2, 40, 64, 64)]
    assert preds[0].pred_sem_seg.data.shape == (1, 60, 50)


def _logged(records):
    handler = logging.Handler()
    handler.emit = records.append
    return handler


def test_init_weights_random_and_is_init():
    model = build('rgb')
    records = []
    logger = MMLogger.get_current_instance()
    handler = _logged(records)
    logger.addHandler(handler)
    try:
        model.init_weights()
    finally:
        logger.removeHandler(handler)
    assert any('no VGG16 checkpoint' in r.getMessage() and
               r.levelno == logging.WARNING for r in records)
    # MSRA: std = sqrt(2 / fan_in) for a 3x3 conv of 16 -> 16 channels
    conv = model.decoder.block1.convs[0].conv
    assert abs(conv.weight.std().item() - (2 / (16 * 9))**0.5) < 0.03
    assert conv.bias.abs().sum() == 0
    # a second call (or one on a model marked initialised) changes nothing
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_weights()
    assert all(torch.equal(v, model.state_dict()[k])
               for k, v in before.items())
    other = build('rgb')
    other._is_init = True
    before = {k: v.clone() for k, v in other.state_dict().items()}
    other.init_weights()
    assert all(torch.equal(v, other.state_dict()[k])
               for k, v in before.items())


def test_pretrained_vgg16_bn_copies_encoder_weights(tmp_path):
    state = vgg16_bn_features_state_dict()
    path = str(tmp_path / 'vgg16_bn.pth')
    torch.save(state, path)
    model = FuseNet(init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    vgg_convs = [k[:-len('.weight')] for k, v in state.items()
                 if k.startswith('features') and v.dim() == 4]
    vgg_bns = [k[:-len('.running_mean')] for k in state
               if k.endswith('running_mean')]
    assert len(vgg_convs) == len(vgg_bns) == 13
    rgb, depth = model.rgb_encoder, model.depth_encoder
    for i, (conv, bn) in enumerate(zip(rgb.convs(), rgb.norms())):
        assert torch.equal(conv.weight, state[vgg_convs[i] + '.weight'])
        assert torch.equal(conv.bias, state[vgg_convs[i] + '.bias'])
        for key in ('weight', 'bias', 'running_mean', 'running_var'):
            assert torch.equal(getattr(bn, key),
                               state[f'{vgg_bns[i]}.{key}'])
    # depth conv1 = mean of the RGB conv1 over input channels; rest copied
    torch.testing.assert_close(
        depth.convs()[0].weight,
        state['features.0.weight'].mean(dim=1, keepdim=True))
    assert depth.convs()[0].weight.shape == (64, 1, 3, 3)
    for i in range(1, 13):
        assert torch.equal(depth.convs()[i].weight,
                           state[vgg_convs[i] + '.weight'])
    assert torch.equal(depth.norms()[0].running_var,
                       state['features.1.running_var'])
    # the decoder keeps its MSRA init
    assert model.decoder.block1.convs[0].conv.bias.abs().sum() == 0

    # plain VGG16 (no BN) through pretrained=: convs copied, BN left at 1/0
    plain = vgg16_bn_features_state_dict(batch_norm=False)
    torch.save(plain, path)
    branch = FuseNetBranch(modality='depth', pretrained=path)
    branch.init_weights()
    torch.testing.assert_close(
        branch.encoder.convs()[0].weight,
        plain['features.0.weight'].mean(dim=1, keepdim=True))
    assert torch.equal(branch.encoder.convs()[12].weight,
                       plain['features.28.weight'])
    assert torch.equal(branch.encoder.norms()[0].weight, torch.ones(64))


def test_pretrained_errors(tmp_path):
    path = str(tmp_path / 'vgg16_bn.pth')
    torch.save(vgg16_bn_features_state_dict(), path)
    tiny = build('fusion', pretrained=path)
    with pytest.raises(UserInputError) as err:
        tiny.init_weights()
    msg = str(err.value)
    assert 'conv 1: 4x3x3x3 vs 64x3x3x3   <-- differs' in msg
    assert 'conv 13: 16x16x3x3 vs 512x512x3x3' in msg
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(DataNotFoundError, match='nope.pth'):
        build('rgb', pretrained=missing).init_weights()
    with pytest.raises(UserInputError, match='never downloads'):
        build('rgb', pretrained='https://x.org/vgg16.pth').init_weights()
    with pytest.raises(UserInputError, match='not both'):
        build('rgb', pretrained=path,
              init_cfg=dict(type='Pretrained', checkpoint=path))
    torch.save({'layer.weight': torch.zeros(3)}, path)
    with pytest.raises(UserInputError, match='unexpected keys \\(1\\): '
                       'layer.weight'):
        build('rgb', pretrained=path).init_weights()


def test_pretrained_own_checkpoint_with_prefix(tmp_path):
    source = build('depth')
    path = str(tmp_path / 'mst.pth')
    torch.save({'state_dict': {f'members.depth.{k}': v
                               for k, v in source.state_dict().items()}},
               path)
    target = build('depth', init_cfg=dict(type='Pretrained', checkpoint=path,
                                          prefix='members.depth.'))
    target.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_encoder_stage_validation():
    with pytest.raises(UserInputError, match='same \\(non-zero\\) length'):
        VGGEncoder(3, channels=(4, 8), num_convs=(2, 2, 3))
    with pytest.raises(UserInputError, match="modality must be one of"):
        FuseNetBranch(modality='thermal', **TINY)
