"""The NYU-Depth-V2 baselines of paper Table 2 (KD, FitNets, DML, MGDFR,
C2KD, configs/baselines/*/*_nyu_*.py): the dense loss paths against direct
computations written here (every per-pixel term averages over the valid
pixels, label != 255; an all-void batch gives a finite 0), the dense C2KD
proxy and MGDFR ranking, the errors that name a fix, and every method end
to end (tools/train.py, then tools/test.py) on the NYU fixture."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.helpers import REPO, run_tool
from tests.nyu_data import make_nyu_root

TINY = (4, 8, 8, 16, 16)  # FuseNet widths for a CPU test (paper: 64..512)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
VOID = 255


def _labels(b=2, h=8, w=8, classes=5, void=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (b, h, w), generator=g)
    labels[torch.rand(b, h, w, generator=g) < void] = VOID
    return labels


def _manual_kl(p_logits, q_logits, temperature=1.0):
    """Per-pixel KL(P || Q) at T, T^2-scaled, as a (B, H, W) double map."""
    p = F.softmax(p_logits.double() / temperature, 1)
    q = F.softmax(q_logits.double() / temperature, 1)
    return (p * (p.log() - q.log())).sum(1) * temperature**2


def _mean_over_valid(values, labels):
    """The mean of a (B, H, W) map over the non-void pixels, one by one."""
    picked = [float(values[b, i, j]) for b, i, j in
              zip(*np.nonzero((labels != VOID).numpy()))]
    return sum(picked) / len(picked)


# ---------------------------------------------------------------- KL terms
def test_dense_kl_terms_are_means_over_the_valid_pixels():
    from mstkd.models.losses import KLDivergenceLoss, MutualKLLoss
    labels = _labels()
    valid = labels != VOID
    s, t, o = (torch.randn(2, 5, 8, 8) for _ in range(3))
    kd = KLDivergenceLoss(temperature=4.0)(s, t, valid)
    assert float(kd) == pytest.approx(
        _mean_over_valid(_manual_kl(t, s, 4.0), labels), rel=1e-5)
    # void pixels do not matter at all
    noisy = t.clone()
    noisy[(~valid).unsqueeze(1).expand_as(t)] += 50
    assert torch.equal(KLDivergenceLoss(temperature=4.0)(s, noisy, valid),
                       kd)
    # DML Eq. 10: each peer taught by the mean of the other two
    dml = MutualKLLoss(detach=True, peer_mean=True)([s, t, o], valid)
    pairs = [(a, b) for a in (s, t, o) for b in (s, t, o) if a is not b]
    want = sum(_mean_over_valid(_manual_kl(a, b), labels)
               for a, b in pairs) / 2
    assert float(dml) == pytest.approx(want, rel=1e-5)


def test_the_distiller_injects_the_segmentation_valid_mask():
    """KD through ConfigurableDistiller with SegTask (kd_nyu_rgb_mm.py):
    CE ignores void, the KL gets the task's valid mask."""
    from mmengine.config import Config

    from mstkd.registry import MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/baselines/kd/kd_nyu_rgb_mm.py'))
    cfg.model.pop('pretrained')
    for member in cfg.model.members.values():
        member.channels = TINY
    model = MODELS.build(cfg.model)
    labels = _labels(classes=40)
    s, t = torch.randn(2, 40, 8, 8), torch.randn(2, 40, 8, 8)
    losses = model.compute_losses(['loss_ce', 'loss_kd'],
                                  {'labels': labels, 'rgb:': s, 'mm:': t})
    assert float(losses['loss_kd']) == pytest.approx(
        _mean_over_valid(_manual_kl(t, s, 4.0), labels), rel=1e-5)
    logp = F.log_softmax(s.double(), 1)
    ce = -logp.gather(1, labels.clamp(max=39)[:, None])[:, 0]
    assert float(losses['loss_ce']) == pytest.approx(
        _mean_over_valid(ce, labels), rel=1e-5)


# --------------------------------------------------------------------- MSE
def test_dense_mse_at_the_label_resolution_counts_the_valid_pixels():
    from mstkd.models.losses import MSELoss
    labels = _labels()
    a, b = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    got = MSELoss()(a, b, labels != VOID)
    err = ((a.double() - b.double())**2).mean(1)  # mean over channels
    assert float(got) == pytest.approx(_mean_over_valid(err, labels),
                                       rel=1e-6)
    # no mask (classification) or vector features: every element
    assert torch.equal(MSELoss()(a, b), F.mse_loss(a, b))
    u, v = torch.randn(2, 6), torch.randn(2, 6)
    assert torch.equal(MSELoss()(u, v, labels != VOID), F.mse_loss(u, v))


def test_bottleneck_mse_is_each_valid_pixels_cell_error():
    """A FitNets hint at the bottleneck (here 4 x 4 cells of 4 x 4 label
    pixels): the mean over the valid label pixels of the error of the cell
    each pixel lies in (an all-void cell counts nowhere)."""
    from mstkd.models.losses import MSELoss
    labels = _labels(h=16, w=16, void=0.5)
    labels[0, :4, :4] = VOID  # one all-void cell
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    b[0, :, 0, 0] += 1e3  # its error is huge and must not count
    got = MSELoss()(a, b, labels != VOID)
    cell = ((a.double() - b.double())**2).mean(1)
    per_pixel = torch.kron(cell, torch.ones(4, 4, dtype=torch.double))
    assert float(got) == pytest.approx(_mean_over_valid(per_pixel, labels),
                                       rel=1e-6)
    with pytest.raises(ValueError, match='as many spatial dims'):
        MSELoss()(torch.randn(2, 3, 4), torch.randn(2, 3, 4),
                  labels != VOID)


def test_an_all_void_batch_gives_a_finite_zero():
    from mstkd.models.losses import (C2KDLoss, KLDivergenceLoss, MSELoss,
                                     MutualKLLoss)
    void = torch.zeros(2, 8, 8, dtype=torch.bool)
    labels = torch.full((2, 8, 8), VOID)
    s = torch.randn(2, 5, 8, 8, requires_grad=True)
    t = torch.randn(2, 5, 8, 8)
    for value in (KLDivergenceLoss(temperature=4.0)(s, t, void),
                  MutualKLLoss(detach=True)([s, t], void),
                  MSELoss()(s, t, void),
                  MSELoss()(s[:, :, :2, :2], t[:, :, :2, :2], void),
                  C2KDLoss()(s, t, labels, void),
                  C2KDLoss(dense_selection='image')(s, t, labels, void)):
        assert float(value) == 0.0
        grad, = torch.autograd.grad(value, s)
        assert torch.isfinite(grad).all() and not grad.any()


# -------------------------------------------------------------------- C2KD
def _non_target_kl(teacher, student, label, temperature):
    keep = [c for c in range(len(teacher)) if c != label]
    qt = F.softmax(teacher[keep].double() / temperature, 0)
    qs = F.softmax(student[keep].double() / temperature, 0)
    return float((qt * (qt.log() - qs.log())).sum())


@pytest.mark.parametrize('selection', ['pixel', 'image'])
def test_dense_c2kd_is_the_per_pixel_ofsd_over_valid_pixels(selection):
    """Every valid pixel is a C2KD sample: Kendall's tau-b of the two
    proxies' logits (scipy) selects it (or, 'image', the mean tau of its
    image's valid pixels selects the whole image), then the non-target KL
    both ways; the mean over the valid pixels."""
    from scipy.stats import kendalltau

    from mstkd.models.losses import C2KDLoss
    classes, temperature = 6, 2.0
    labels = _labels(b=3, h=4, w=5, classes=classes)
    valid = labels != VOID
    s = torch.randn(3, classes, 4, 5)
    # pixels from agreeing to disagreeing proxies: tau on both sides of 0
    mix = torch.linspace(-1, 1, 20).view(1, 1, 4, 5)
    t = mix * s + (1 - mix.abs()) * torch.randn(3, classes, 4, 5)
    t[2] = s[2] - 0.3 * torch.randn(classes, 4, 5)  # a well-ranked image
    loss = C2KDLoss(threshold=0.0, temperature=temperature,
                    dense_selection=selection, chunk_pixels=7)
    got = loss(s, t, labels, valid)

    pixels = list(zip(*np.nonzero(valid.numpy())))
    tau = {p: kendalltau(t[p[0], :, p[1], p[2]].numpy(),
                         s[p[0], :, p[1], p[2]].numpy())[0] for p in pixels}
    if selection == 'image':
        image_tau = {b: np.mean([v for p, v in tau.items() if p[0] == b])
                     for b in range(3)}
        tau = {p: image_tau[p[0]] for p in pixels}
    total = 0.0
    for p in pixels:
        if tau[p] > 0:
            b, i, j = p
            zs, zt, y = s[b, :, i, j], t[b, :, i, j], int(labels[p])
            total += _non_target_kl(zt, zs, y, temperature) + \
                _non_target_kl(zs, zt, y, temperature)
    assert 0 < sum(v > 0 for v in tau.values()) < len(pixels)
    assert float(got) == pytest.approx(total / len(pixels), rel=1e-5)


def test_dense_c2kd_refuses_mismatched_maps_and_void_without_a_mask():
    from mstkd.models.losses import C2KDLoss
    s = torch.randn(2, 5, 4, 4)
    with pytest.raises(ValueError, match=r'ProxyHead\(dense=True\)'):
        C2KDLoss()(s, s.clone(), _labels(h=8, w=8))
    with pytest.raises(ValueError, match='give valid_mask'):
        C2KDLoss()(s, s.clone(), _labels(h=4, w=4))  # 255 but no mask


def test_dense_proxy_head_is_the_head_on_every_cell_upsampled():
    from mstkd.models.connectors import ProxyHead
    head = ProxyHead(6, 3, dense=True, out_size=(8, 12)).eval()
    head.bn.running_mean.uniform_()
    head.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 6, 2, 3)
    flat = ProxyHead(6, 3).eval()
    flat.load_state_dict(head.state_dict())
    cells = torch.stack([torch.stack([
        torch.stack([flat(x[b, :, i, j][None])[0] for j in range(3)], -1)
        for i in range(2)], -2) for b in range(2)])  # (2, 3, 2, 3)
    want = F.interpolate(cells, size=(8, 12), mode='bilinear',
                         align_corners=False)
    torch.testing.assert_close(head(x), want)
    # training: BatchNorm statistics over every cell of the batch
    head.train()
    h = head.fc1(x.permute(0, 2, 3, 1).reshape(-1, 6))
    h = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + head.bn.eps)
    h = head.fc2(F.leaky_relu(h * head.bn.weight + head.bn.bias, 0.1))
    torch.testing.assert_close(
        head(x), F.interpolate(h.view(2, 2, 3, 3).permute(0, 3, 1, 2),
                               size=(8, 12), mode='bilinear',
                               align_corners=False))
    with pytest.raises(ValueError, match='dense=False'):
        head(torch.randn(2, 6))


# ------------------------------------------------------------------- MGDFR
def _seg_batch(b=3, h=32, w=32, seed=0):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    samples = []
    for label in _labels(b, h, w, classes=40, seed=seed):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        sample.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w)))
        samples.append(sample)
    return dict(inputs=[torch.rand(4, h, w, generator=g) for _ in range(b)],
                data_samples=samples)


def _nyu_mgdfr(**kwargs):
    from mmengine.config import Config

    from mstkd.registry import MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/baselines/mgdfr/mgdfr_nyu_rgb_cm.py'))
    cfg.model.pop('pretrained')
    for member in cfg.model.members.values():
        member.channels = TINY
    cfg.model.update({**dict(num_channels=16, num_permutations=2), **kwargs})
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_dense_mgdfr_salience_counts_the_valid_pixels_only():
    """The permuted teacher's logit maps vs the student's, MSE over the
    classes and the valid pixels, one forward per (batch, draw, channel),
    batches weighted by their valid pixels; the same as the repeated-input
    forwards of expand_at='input' (3 channels per forward here)."""
    model = _nyu_mgdfr(chunk_samples=9, reinit_student=False)
    batches = [_seg_batch(3, seed=0), _seg_batch(3, seed=1)]
    torch.manual_seed(1)
    salience = model.compute_saliency(batches)

    torch.manual_seed(1)
    teacher, student = model.members['depth'].eval(), model.student.eval()
    total, seen = [0.0] * 16, 0
    with torch.no_grad():
        for batch in batches:
            x = torch.stack(batch['inputs'])
            labels = torch.stack([d.gt_sem_seg.data[0]
                                  for d in batch['data_samples']])
            s = student(x)
            valid = int((labels != VOID).sum())
            for _ in range(2):
                for c in range(16):
                    perm = torch.randperm(3)

                    def change(m, args, out, c=c, perm=perm):
                        y = out.clone()
                        y[:, c] = out[perm, c]
                        return y

                    handle = teacher.bottleneck.register_forward_hook(change)
                    t = teacher(x)
                    handle.remove()
                    err = ((t.double() - s.double())**2).mean(1)
                    total[c] += _mean_over_valid(err, labels) * valid
            seen += valid
    mean = [v / (seen * 2) for v in total]
    lo, hi = min(mean), max(mean)
    want = torch.tensor([(v - lo) / (hi - lo) for v in mean])
    torch.testing.assert_close(salience.double(), want.double(), rtol=0,
                               atol=1e-5)
    assert int(model.general_mask.sum()) == 4  # 25% of 16


def test_mgdfr_errors_name_the_fix_and_init_weights_restarts_the_student():
    # the default copies at the feature break FuseNet's unpooling
    model = _nyu_mgdfr(expand_at='feature', chunk_samples=9)
    with pytest.raises(Exception, match="expand_at='input'"):
        model.compute_saliency([_seg_batch(3)])
    # an Identity bottleneck has no width attribute
    with pytest.raises(Exception, match='set num_channels'):
        _nyu_mgdfr(num_channels=None)
    # a wrong layer path lists the valid ones
    with pytest.raises(Exception, match='Valid layer paths') as info:
        _nyu_mgdfr(feature='depth:bottlenek')
    assert 'decoder.block1' in str(info.value)
    # reinit_student='init_weights': BN statistics reset, MSRA convs
    model = _nyu_mgdfr(chunk_samples=9)
    model.train()
    model.student(torch.rand(2, 4, 32, 32))  # moves BN running stats
    before = {k: v.clone() for k, v in model.student.state_dict().items()}
    model.compute_saliency([_seg_batch(3)])
    after = model.student.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in after
               if k.endswith('weight') and after[k].dim() == 4)
    for name, module in model.student.named_modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert not module.running_mean.any(), name
            assert torch.equal(module.weight,
                               torch.ones_like(module.weight)), name


# ------------------------------------------------------------- end to end
@pytest.fixture(scope='module')
def nyu(tmp_path_factory):
    """The tiny NYU fixture (real file layout, converted) and the teacher
    member runs' checkpoints (tiny FuseNet nets, MSRA weights), as
    test_export_inference makes a member checkpoint."""
    from mmengine.config import Config

    from mstkd.registry import MODELS
    from mstkd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    tmp = tmp_path_factory.mktemp('nyu_baselines')
    root = make_nyu_root(str(tmp), n=10, h=32, w=32)
    ckpts = {}
    for member, config in (('mm', 'nyu_fusion'), ('depth', 'nyu_depth')):
        cfg = Config.fromfile(osp.join(REPO, 'configs/members',
                                       f'{config}.py'))
        cfg.model.channels = TINY
        torch.manual_seed(0)
        net = MODELS.build(cfg.model)
        net.init_weights()
        ckpts[member] = str(tmp / f'{config}.pth')
        torch.save(dict(state_dict=net.state_dict(), meta={}),
                   ckpts[member])
    return dict(root=root, ckpts=ckpts)


# method -> (config, members, teacher, one epoch per stage, expected log)
METHODS = {
    'kd': ('kd/kd_nyu_rgb_mm.py', ('mm', 'rgb'), 'mm',
           ['train_cfg.max_epochs=1'], 'loss_kd'),
    'fitnets': ('fitnets/fitnets_nyu_rgb_cm.py', ('depth', 'rgb'), 'depth',
                ['train_cfg.stages.hint=1', 'train_cfg.stages.kd=1'],
                'hint (ConvConnector: 16 -> 16)'),
    'dml': ('dml/dml_nyu_rgb_mmcm.py', ('mm', 'rgb', 'depth'), None,
            ['train_cfg.max_epochs=1'], 'loss_mutual'),
    'mgdfr': ('mgdfr/mgdfr_nyu_rgb_cm.py', ('depth', 'rgb'), 'depth',
              ['train_cfg.stages.overlap=1', 'train_cfg.stages.kd=1',
               'model.num_permutations=1'],
              'MGDFR: ranked 16 channels of depth:bottleneck on'),
    'c2kd': ('c2kd/c2kd_nyu_rgb_cm.py', ('depth', 'rgb'), 'depth',
             ['train_cfg.stages.train=1'],
             'proxy_s (ProxyHead: 16 -> 40), proxy_t (ProxyHead: 16 -> 40)'),
}


def _ok(result):
    assert result.returncode == 0, (result.stdout[-4000:] +
                                    result.stderr[-4000:])
    return result.stdout + result.stderr


@pytest.mark.parametrize('method', list(METHODS))
def test_nyu_baseline_trains_and_tests_end_to_end(method, nyu, tmp_path):
    config, members, teacher, epochs, expected = METHODS[method]
    config = f'configs/baselines/{config}'
    opts = []
    for loader in LOADERS:
        opts += [f'{loader}.dataset.data_root={nyu["root"]}',
                 f'{loader}.num_workers=0', f'{loader}.batch_size=2']
    opts += [f'model.members.{m}.channels=(4,8,8,16,16)' for m in members]
    if method == 'mgdfr':  # the width of the tiny bottleneck (buffers)
        opts.append('model.num_channels=16')
    if teacher:
        opts.append(f'model.pretrained.{teacher}.checkpoint='
                    f'{nyu["ckpts"][teacher]}')
    work = str(tmp_path / 'work')
    log = _ok(run_tool(['tools/train.py', config, '--work-dir', work,
                        '--cfg-options', *opts, *epochs]))
    assert expected in log
    if teacher:
        assert f'Member "{teacher}" loaded from {nyu["ckpts"][teacher]}' \
            in log
    best = glob.glob(osp.join(work, 'best_CE_epoch_*.pth'))
    assert len(best) == 1
    out = str(tmp_path / 'metrics.json')
    _ok(run_tool(['tools/test.py', config, best[0], '--out', out,
                  '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                  *opts]))
    metrics = json.load(open(out))
    assert {'mIoU', 'aAcc', 'mAcc', 'OA', 'AA', 'CE'} <= set(metrics)
    assert 0 <= metrics['mIoU'] <= 100 and 0 < metrics['aAcc'] <= 100
    assert np.isfinite(metrics['CE'])
