"""``reference_compat`` against the public reference release.

Each release formula is written here from reading the release
(``Gray-OREO/MST-Distill`` at 093b2fe; file and function named at each
one) and compared with mstkd's switch on identical weights and inputs. The
paper (default) path is covered by the other tests, including
``test_algorithms/test_mst_reference.py``.
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mstkd.engine.hooks import MaskNetSelectionHook
from mstkd.models import MSTDistill
from mstkd.models.losses import (KLDivergenceLoss, LoadBalanceLoss,
                                 MutualKLLoss, RoutedKDLoss, StepDecay,
                                 load_balance)
from mstkd.models.mst import DenseGateNet, GateNet, MaskNet
from mstkd.models.segmentors import FuseNetBranch

T = 4.0


# ------------------------------------------------- the release, as written
class ReleaseSpatialReduction(nn.Module):
    """KD_methods/MST.py ``SpatialReduction``."""

    def __init__(self, feat_dim):
        super().__init__()
        self.downsample = nn.Sequential(
            nn.Conv2d(feat_dim, feat_dim, kernel_size=3, stride=2, padding=1,
                      groups=feat_dim, bias=False),
            nn.Conv2d(feat_dim, feat_dim, kernel_size=1, bias=False),
            nn.BatchNorm2d(feat_dim), nn.ReLU(inplace=True))
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.downsample(x)
        x = self.gap(x)
        return x.squeeze(-1).squeeze(-1)


class ReleaseMaskNet(nn.Module):
    """KD_methods/MST.py ``MaskNet_1d`` (and ``MaskNet_2d`` = spatial
    reduction first); returns the mask."""

    def __init__(self, feat_dim, hidden_dim, num_heads, two_d):
        super().__init__()
        self.seq_len, self.hidden_dim = feat_dim, hidden_dim
        self.spatial_reduce = ReleaseSpatialReduction(feat_dim) \
            if two_d else None
        self.embed = nn.Linear(feat_dim, hidden_dim * feat_dim)
        self.mha = nn.MultiheadAttention(embed_dim=hidden_dim,
                                         num_heads=num_heads,
                                         batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        if self.spatial_reduce is not None:
            x = self.spatial_reduce(x)
        x = self.embed(x).reshape(x.size(0), self.seq_len, self.hidden_dim)
        attn_output, _ = self.mha(x, x, x)
        return torch.sigmoid(self.fc(attn_output).squeeze(-1))


def release_hook_output(masknet, output):
    """KD_methods/MST.py ``hook_fn``: ``mask * output``, the mask
    unsqueezed over the spatial dimensions."""
    mask = masknet(output)
    while mask.dim() < output.dim():
        mask = mask.unsqueeze(-1)
    return mask * output


def release_kl(student, teacher, dense=False):
    """KD_methods/MST.py ``distillation_loss_detached``."""
    teacher = teacher.detach()
    kl = F.kl_div(F.log_softmax(student / T, dim=1),
                  F.softmax(teacher / T, dim=1),
                  reduction='batchmean') * (T * T)
    if dense:  # NYU-Depth-V2 branch: / (H * W), every pixel
        kl = kl / (student.shape[2] * student.shape[3])
    return kl


def release_routed_kd(outputs_s, outputs_mtg, gate_probs, k):
    """KD_methods/MST.py ``k_ways_MTGdistillation_detached``."""
    stacked = torch.stack(outputs_mtg, dim=0).permute(1, 0, 2)
    _, topk = torch.topk(gate_probs, k=k, dim=1)
    selected = torch.gather(stacked, dim=1, index=topk.unsqueeze(-1).expand(
        -1, -1, stacked.size(2)))
    expanded = outputs_s.unsqueeze(1).expand(-1, k, -1)
    loss = 0
    for i in range(k):
        loss += release_kl(expanded[:, i], selected[:, i])
    return loss / k, topk


def release_load_balance(gate_probs, mode):
    """KD_methods/MST.py ``load_balancing_loss``."""
    if mode == 'KL':
        avg = gate_probs.mean(dim=0)
        uniform = torch.ones_like(avg) / avg.size(0)
        return nn.KLDivLoss(reduction='batchmean')(torch.log(avg), uniform)
    importance = gate_probs.sum(dim=0)
    return importance.std() / importance.mean()


def release_lambdas(epochs):
    """main-MST-Distill.py: the weights each S3 epoch trains with; updated
    at the end of every epoch (``args.w_kl *= 0.5 if epoch % 30 == 0``)."""
    w_kl, w_lb, used = 1.0, 1.0, []
    for epoch in range(epochs):
        used.append((w_kl, w_lb))
        w_lb *= 0.9 if epoch % 10 == 0 else 1
        w_kl *= 0.5 if epoch % 30 == 0 else 1
    return used


# ------------------------------------------------------------ the items
@pytest.mark.parametrize('train', [True, False])
def test_item1_learned_spatial_reduction_masknet(train):
    torch.manual_seed(0)
    c, h, heads = 12, 6, 3
    ours = MaskNet(c, hidden_dim=h, num_heads=heads,
                   spatial_reduction='learned')
    ref = ReleaseMaskNet(c, h, heads, two_d=True)
    ref.spatial_reduce.downsample.load_state_dict(
        {k: v for k, v in ours.reduce.state_dict().items()
         if not k.startswith(('4', '5'))})
    ref.embed.load_state_dict(ours.projector.state_dict())
    ref.mha.load_state_dict(ours.attn.state_dict())
    ref.fc.load_state_dict(ours.fc.state_dict())
    ours.train(train)
    ref.train(train)
    x = torch.randn(4, c, 7, 9)
    torch.testing.assert_close(ours(x), release_hook_output(ref, x),
                               rtol=1e-5, atol=1e-5)
    assert ours.reduce[0].stride == (2, 2) and ours.reduce[0].groups == c
    with pytest.raises(ValueError, match='needs \\(B, C, H, W\\)'):
        ours(torch.randn(4, c))
    # the default (paper reading) is the parameter-free spatial mean
    mean = MaskNet(c, hidden_dim=h, num_heads=heads)
    assert not hasattr(mean, 'reduce')
    torch.testing.assert_close(mean.mask(x), mean.mask(x.mean((2, 3))))


def test_item2_dense_gate_conv_and_plain_gate():
    torch.manual_seed(0)
    c, n = 5, 4
    gate = DenseGateNet(c, n, arch='conv')
    conv_point, conv_dw, fc = gate.conv[0], gate.conv[2], gate.conv[6]
    # KD_methods/MST.py GateNet_dense.forward
    x = torch.randn(2, c, 9, 11)
    y = F.relu(conv_point(x))
    y = F.relu(conv_dw(y))
    y = F.adaptive_avg_pool2d(y, (1, 1)).view(2, -1)
    torch.testing.assert_close(gate(x), fc(y))
    assert (conv_point.kernel_size, conv_dw.kernel_size, conv_dw.stride,
            conv_dw.groups) == ((1, 1), (3, 3), (2, 2), 2 * c)
    # KD_methods/MST.py GateNet: fc1 -> fc2, no activation
    plain = GateNet(c, n, act=None)
    z = torch.randn(3, c)
    torch.testing.assert_close(plain(z),
                               plain.mlp[2](plain.mlp[0](z)))


def test_item3_routed_kd_mean_over_k():
    torch.manual_seed(0)
    b, n, c, k = 6, 4, 5, 2
    student = torch.randn(b, c, requires_grad=True)
    teachers = [torch.randn(b, c) for _ in range(n)]
    probs = torch.softmax(torch.randn(b, n), 1)
    want, topk = release_routed_kd(student, teachers, probs, k)
    loss = RoutedKDLoss(T, topk_reduction='mean')
    got = loss(student, torch.stack(teachers), topk)
    torch.testing.assert_close(got, want)
    # the paper (Eq. 14) sums the k terms
    torch.testing.assert_close(RoutedKDLoss(T)(student, torch.stack(teachers),
                                               topk), k * want)


def test_item4_dense_kl_over_every_pixel():
    torch.manual_seed(0)
    s, t = torch.randn(2, 5, 6, 7), torch.randn(2, 5, 6, 7)
    void = torch.rand(2, 6, 7) > 0.6
    want = release_kl(s, t, dense=True)
    got = KLDivergenceLoss(T, normalize='all')(s, t, ~void)
    torch.testing.assert_close(got, want)
    # S1 (main-MST-Distill.py, dense): both directions, no detach
    ss = s.clone().requires_grad_()
    tt = t.clone().requires_grad_()
    align = MutualKLLoss(T, normalize='all')([ss, tt], ~void)
    both = (F.kl_div(F.log_softmax(ss / T, 1), F.softmax(tt / T, 1),
                     reduction='batchmean') +
            F.kl_div(F.log_softmax(tt / T, 1), F.softmax(ss / T, 1),
                     reduction='batchmean')) * T * T / (6 * 7)
    torch.testing.assert_close(align, both)
    align.backward()
    assert ss.grad.abs().sum() > 0 and tt.grad.abs().sum() > 0
    # the paper path averages over the valid pixels only
    assert not torch.allclose(KLDivergenceLoss(T)(s, t, ~void), want)


def test_item5_load_balance_cv_and_kl():
    torch.manual_seed(0)
    probs = torch.softmax(torch.randn(16, 4), 1)
    torch.testing.assert_close(
        LoadBalanceLoss(mode='cv', cv_squared=False)(probs),
        release_load_balance(probs, 'CV'))
    torch.testing.assert_close(load_balance(probs, 'cv'),
                               release_load_balance(probs, 'CV')**2,
                               rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(
        LoadBalanceLoss(mode='kl', divide_by_n=True)(probs),
        release_load_balance(probs, 'KL'))


def test_item6_lambda_schedule():
    used = release_lambdas(100)
    lam1 = StepDecay(1.0, 30, 0.5, rounding='ceil')
    lam2 = StepDecay(1.0, 10, 0.9, rounding='ceil')
    for epoch, (w_kl, w_lb) in enumerate(used):
        assert lam1(epoch) == pytest.approx(w_kl, rel=1e-12), epoch
        assert lam2(epoch) == pytest.approx(w_lb, rel=1e-12), epoch
    assert used[0] == (1.0, 1.0) and used[1] == (0.5, 0.9)


def test_item7_fusenet_release_init(caplog):
    torch.manual_seed(0)
    net = FuseNetBranch(num_classes=5, channels=(4, 8, 8, 16, 16),
                        init_mode='release', pretrained='/no/such/vgg.pth')
    net.init_weights()  # the checkpoint is not read (the release drops it)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for conv in convs:
        fan_in = conv.weight[0].numel()
        fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
        std = 0.02 * math.sqrt(2.0 / (fan_in + fan_out))  # xavier_normal_
        assert conv.weight.std().item() == pytest.approx(std, rel=0.35)
        assert conv.bias is None or not conv.bias.any()
    weights = torch.cat([bn.weight for bn in bns])
    assert abs(weights.mean().item() - 1) < 0.01
    assert 0.01 < weights.std().item() < 0.03
    assert not torch.cat([bn.bias for bn in bns]).any()


def test_item7_release_nyu_label_space(tmp_path):
    """The release's 41 NYU outputs (void = class 0): the dataset keeps the
    stored labels and names 41 classes, the config checks count 41, the
    void label must agree between the members and the task, and the CE of
    a member ignores void while the KL covers it (dense_kd_divide_all).
    The metric is in tests/test_evaluation/test_seg_metric.py, the run in
    tests/test_tools/test_nyu_pipeline.py."""
    from mmengine.config import Config

    from mstkd.datasets import NYUDepthV2SegDataset
    from mstkd.datasets.nyu_depth_v2 import VOID_CLASS
    from mstkd.utils.config_checks import check_config
    from mstkd.utils.errors import UserInputError
    from tests.helpers import REPO
    from tests.nyu_data import make_nyu_root, make_scene

    root = make_nyu_root(str(tmp_path), n=5, h=8, w=8)
    raw = NYUDepthV2SegDataset(data_root=root, split='train',
                               reduce_zero_label=False, pipeline=[])
    assert len(raw.metainfo['classes']) == 41
    assert raw.metainfo['classes'][0] == VOID_CLASS == 'void'
    assert raw.metainfo['palette'][0] == [0, 0, 0]
    assert len(raw.metainfo['palette']) == 41
    assert raw.get_data_info(0)['reduce_zero_label'] is False
    labels = make_scene(5, 8, 8)[0]
    assert (labels == 0).any()  # void is stored as 0 and stays 0
    plain = NYUDepthV2SegDataset(data_root=root, split='train', pipeline=[])
    assert len(plain.metainfo['classes']) == 40

    cfg = Config.fromfile(
        f'{REPO}/configs/mst/ablations/mst_nyu_rgb_reference.py')
    check_config(cfg)
    assert cfg.model.members.rgb.num_classes == 41
    assert cfg.model.members.mm.fusion == 'mean'
    assert cfg.test_evaluator.ignore_predicted_index == 0
    cfg.merge_from_dict({'model.members.rgb.num_classes': 40})
    with pytest.raises(UserInputError, match='has 41 classes'):
        check_config(cfg)

    members = dict(
        rgb=dict(type='FuseNetBranch', modality='rgb', num_classes=41,
                 channels=(4, 8, 8, 16, 16), ignore_index=0),
        depth=dict(type='FuseNetBranch', modality='depth', num_classes=41,
                   channels=(4, 8, 8, 16, 16), ignore_index=0))
    with pytest.raises(UserInputError,
                       match=r'members.rgb.ignore_index=0, but '
                       r'model.task.ignore_index=255'):
        MSTDistill(members=members, target='rgb',
                   teachers=dict(depth=['bottleneck']),
                   task=dict(type='SegTask'))

    # the member's CE ignores the void pixels (label 0) while the KL over
    # every pixel covers them: raise the void logit at the void pixels
    from mstkd.registry import MODELS
    net = MODELS.build(members['rgb'])
    torch.manual_seed(0)
    logits = torch.randn(2, 41, 8, 8)
    label = torch.randint(0, 41, (2, 8, 8))
    label[:, :2] = 0
    keep = label != 0
    bumped = logits.clone()
    bumped[:, 0][~keep] += 3.0
    ce = F.cross_entropy(logits, label, ignore_index=net.ignore_index)
    assert F.cross_entropy(bumped, label, ignore_index=0) == ce
    teacher = logits.flip(0)
    kl_all = KLDivergenceLoss(T, normalize='all')
    kl_valid = KLDivergenceLoss(T)
    assert (kl_all(bumped, teacher, keep) -
            kl_all(logits, teacher, keep)).abs() > 1e-3
    torch.testing.assert_close(kl_valid(bumped, teacher, keep),
                               kl_valid(logits, teacher, keep))


def test_masknet_selection_joint_vs_per_masknet():
    class Spec:
        def __init__(self, teacher, key):
            self.teacher, self.key, self.name = teacher, key, key

    class Model:
        specialized = [Spec('mm', 'a'), Spec('mm', 'b'), Spec('audio', 'c')]
        masknets = {k: nn.Linear(2, 2) for k in 'abc'}

    model = Model()
    hook = MaskNetSelectionHook()
    model.masknet_selection = 'joint'
    # main-MST-Distill.py: mean over the MM MaskNets + mean over the CM ones
    assert hook.update(model, [1.0, 3.0, 1.0]) == ['a', 'b', 'c']
    assert hook.best_kl['__joint__'] == 3.0
    # one MaskNet better, the joint criterion worse: nothing is kept
    assert hook.update(model, [0.5, 4.0, 1.0]) == []
    assert hook.update(model, [0.5, 3.0, 1.0]) == ['a', 'b', 'c']
    per = MaskNetSelectionHook()
    model.masknet_selection = 'per_masknet'
    per.update(model, [1.0, 3.0, 1.0])
    assert per.update(model, [0.5, 4.0, 1.0]) == ['a']


def test_reference_compat_true_switches_every_item():
    members = dict(
        mm=dict(type='LateFusionNet',
                encoders=dict(image=dict(type='LeNet5'),
                              audio=dict(type='CNN2d', channels=(4, 8))),
                hidden_channels=(12, ), num_classes=10),
        image=dict(type='LeNet5', modality='image'),
        audio=dict(type='CNN2d', modality='audio', channels=(4, 8)))
    kwargs = dict(members=members, target='image', k=2,
                  teachers=dict(mm=['fusion.fc1'], audio=['conv1', 'conv2']),
                  masknet=dict(projector='light'), lb_mode='cv')
    inputs = dict(image=torch.rand(3, 1, 28, 28),
                  audio=torch.rand(3, 1, 16, 16))
    paper = MSTDistill(**kwargs)
    paper.setup(inputs, ['s1', 's2', 's3'])
    release = MSTDistill(reference_compat=True, **kwargs)
    release.setup(inputs, ['s1', 's2', 's3'])
    losses = release.distill_losses
    assert losses['loss_routed_kd'].topk_reduction == 'mean'
    assert losses['loss_routed_kd'].weight_schedule.rounding == 'ceil'
    assert losses['loss_lb'].cv_squared is False
    assert losses['loss_lb'].divide_by_n is True
    assert release.masknet_selection == 'joint'
    assert isinstance(release.gate.mlp[1], nn.Identity)
    assert release.compat['stacked_masks']
    reductions = {s.name: release.masknets[s.key].spatial_reduction
                  for s in release.specialized}
    # 2-D maps (W > 1) learned, the 12-d vector the mean
    assert reductions == {'mm:fusion.fc1': 'mean', 'audio:conv1': 'learned',
                          'audio:conv2': 'learned'}
    assert {paper.masknets[s.key].spatial_reduction
            for s in paper.specialized} == {'mean'}
    p = paper.distill_losses
    assert (p['loss_routed_kd'].topk_reduction, p['loss_lb'].cv_squared,
            p['loss_routed_kd'].weight_schedule.rounding,
            paper.masknet_selection) == ('sum', True, 'floor', 'per_masknet')
    dense = MSTDistill(reference_compat=dict(gate_reference=True),
                       gate=dict(type='DenseGateNet'), **kwargs)
    assert dense.gate.arch == 'conv'


@pytest.mark.parametrize('cfg', ['configs/mst/mst_avdigits_image.py',
                                 'configs/mst/mst_nyu_rgb.py'])
def test_reference_compat_trains_end_to_end(cfg, tiny_avdigits, tmp_path):
    """Every release item on, through the Runner: S1 -> S2 -> S3."""
    from tests.nyu_data import make_nyu_root
    from tests.test_models.test_algorithms.test_mst_reference import train
    data = dict(avdigits=tiny_avdigits)
    if 'nyu' in cfg:
        # maps of 4x4 at the bottleneck: the learned reduction's BatchNorm
        # needs more than one value per channel (a 1-image batch at 1x1
        # fails, as in the release)
        data['nyu'] = make_nyu_root(str(tmp_path / 'nyu'), n=6, h=128,
                                    w=128)
    runner = train(dict(cfg=cfg, epochs=(1, 1, 1),
                        model=dict(reference_compat=True)), data,
                   str(tmp_path / 'work'))
    model = runner.model
    learned = [s.name for s in model.specialized
               if model.masknets[s.key].spatial_reduction == 'learned']
    # AV-Digits: the audio CNN's conv maps; NYU: every bottleneck MaskNet
    assert learned == [s.name for s in model.specialized
                       if s.teacher != 'mm' or 'nyu' in cfg]
    for name in learned:
        bn = model.masknets[name.replace('.', '_').replace(':', '__')] \
            .reduce[2]
        assert bn.num_batches_tracked.item() > 0  # trained in S2
    if 'nyu' in cfg:
        assert model.gate.arch == 'conv'
    ckpt = torch.load(str(tmp_path / 'work' / 's2_end.pth'),
                      map_location='cpu', weights_only=True)
    assert '__joint__' in ckpt['masknet_selection']['best_kl']
    assert all(torch.isfinite(v).all() for v in
               model.student_state_dict().values() if v.is_floating_point())
