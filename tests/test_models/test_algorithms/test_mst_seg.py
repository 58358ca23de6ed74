"""MSTDistill with the segmentation task: per-pixel KD over valid pixels,
per-image routing, SegDataSample predictions. Tiny mmseg segmentors stand in
for FuseNet."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample

from mstkd.models import MSTDistill
from mstkd.models.losses import routed_kd
from mstkd.registry import MODELS
from tests.helpers import reference_kl

C = 4  # classes
H, W = 8, 12


@MODELS.register_module(force=True)
class ToySegmentor(BaseSegmentor):
    """conv ``enc`` -> conv ``dec`` on the channels of its modalities."""

    def __init__(self, channels=(0, 1, 2, 3), num_classes=C):
        super().__init__()
        self.channels = list(channels)
        self.num_classes = num_classes
        self.align_corners = False
        self.enc = nn.Conv2d(len(self.channels), 6, 3, padding=1)
        self.dec = nn.Conv2d(6, num_classes, 1)

    def extract_feat(self, inputs):
        return self.enc(inputs[:, self.channels])

    def encode_decode(self, inputs, batch_data_samples):
        return self.dec(torch.relu(self.extract_feat(inputs)))

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs, data_samples)

    def loss(self, inputs, data_samples):
        raise NotImplementedError

    def predict(self, inputs, data_samples=None):
        return self.postprocess_result(self._forward(inputs), data_samples)


def cfg(**kwargs):
    base = dict(
        members=dict(mm=dict(type='ToySegmentor'),
                     rgb=dict(type='ToySegmentor', channels=(0, 1, 2)),
                     depth=dict(type='ToySegmentor', channels=(3, ))),
        target='rgb',
        teachers=dict(mm=['enc', 'dec'], depth=['enc']),
        temperature=4.0,
        masknet=dict(num_heads=2),
        task=dict(type='SegTask', ignore_index=255),
        gate=dict(type='DenseGateNet'),
        cache_teacher_outputs=False)
    base.update(kwargs)
    return base


def batch(b=3, seed=0, void_frac=0.3):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(b, 4, H, W, generator=g)
    samples = []
    for _ in range(b):
        label = torch.randint(0, C, (1, H, W), generator=g)
        label[torch.rand(1, H, W, generator=g) < void_frac] = 255
        s = SegDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W),
                                        img_path=f'img_{len(samples)}.png'))
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    return inputs, samples


def build(**kwargs):
    model = MSTDistill(**cfg(**kwargs))
    model.build_masknets(batch()[0])
    return model


def test_masknets_are_spatial_and_gate_is_dense():
    model = build()
    assert model.num_teachers == 3
    assert type(model.gate).__name__ == 'DenseGateNet'
    assert model.masknets['mm__enc'].in_channels == 6
    assert model.masknets['mm__dec'].in_channels == C
    assert not model.cache_teacher_outputs


def test_s3_loss_is_per_pixel_kl_over_valid_pixels():
    model = build()
    model.set_stage('s3')
    model.eval()  # deterministic; the loss does not depend on train mode
    inputs, samples = batch()
    labels = model.task.labels(samples)
    losses = model(inputs, samples, mode='loss')
    student = model.members['rgb'](inputs)
    teachers = model.specialized_teacher_logits(inputs)
    probs, idx = model.gate.route(student, 1)
    assert probs.shape == (3, 3)  # (B, N): one decision per image
    valid = labels != 255
    # per pixel KL(routed teacher || student) at T = 4 times T^2, float64
    manual = torch.stack([
        reference_kl(teachers[idx[b, 0], b:b + 1], student[b:b + 1], 4.0,
                     reduction='none')[0]
        for b in range(3)])
    expect = (manual * valid).sum() / valid.sum()
    lambda1 = model.loss_weights()['loss_routed_kd']
    assert losses['loss_routed_kd'].item() == pytest.approx(
        lambda1 * expect.item(), rel=1e-5)
    assert losses['loss_ce'].item() == pytest.approx(
        F.cross_entropy(student, labels, ignore_index=255).item(), rel=1e-6)


def test_void_pixels_do_not_change_the_loss():
    model = build()
    model.set_stage('s3')
    model.eval()
    inputs, samples = batch()
    labels = model.task.labels(samples)
    base = model(inputs, samples, mode='loss')
    # Perturb the teachers' logits at void pixels only.
    student = model.members['rgb'](inputs)
    teachers = model.specialized_teacher_logits(inputs)
    noisy = teachers.clone()
    void = (labels == 255).unsqueeze(1).expand_as(student)
    noisy[:, void] += 100 * torch.randn(int(void.sum()))
    idx = torch.zeros(3, 1, dtype=torch.long)
    mask = labels != 255
    a = routed_kd(student, teachers, idx, 4.0, valid_mask=mask)
    b = routed_kd(student, noisy, idx, 4.0, valid_mask=mask)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    assert base['loss_routed_kd'] > 0


def test_reference_switch_averages_over_every_pixel():
    """dense_kd_divide_all: the release's KL over every pixel, void
    included, divided by B*H*W (KD_methods/MST.py distillation_loss)."""
    model = build(reference_compat=dict(dense_kd_divide_all=True))
    paper = build()
    paper.load_state_dict(model.state_dict())
    for m in (model, paper):
        m.set_stage('s3')
        m.eval()
    void, clean = batch(void_frac=0.5), batch(void_frac=0.0)
    assert torch.equal(void[0], clean[0])  # same images, other labels

    def kd(m, data):
        return m(*data, mode='loss')['loss_routed_kd'].item()

    # the void pixels count as any other: the labels do not matter
    assert kd(model, void) == pytest.approx(kd(model, clean), rel=1e-6)
    assert kd(model, void) == pytest.approx(kd(paper, clean), rel=1e-6)
    # the paper averages over the valid pixels only
    assert kd(paper, void) != pytest.approx(kd(paper, clean), rel=1e-3)


def test_stage_gradients():
    model = build()
    inputs, samples = batch()
    # S1: every member learns, CE ignores void.
    model.set_stage('s1')
    model.train()
    losses = model(inputs, samples, mode='loss')
    assert {'loss_ce_mm', 'loss_ce_rgb', 'loss_ce_depth',
            'loss_align'} <= set(losses)
    sum(losses.values()).backward()
    for name in ('mm', 'rgb', 'depth'):
        assert model.members[name].enc.weight.grad is not None
    model.zero_grad()
    # S2: only the MaskNets learn, each from its own loss.
    model.set_stage('s2')
    losses = model(inputs, samples, mode='loss')
    assert len(losses) == 3
    losses['loss_mask_mm__enc'].backward()
    assert model.masknets['mm__enc'].fc.weight.grad is not None
    # chunks of one batched forward: the other MaskNets get zero gradient
    other = model.masknets['mm__dec'].fc.weight.grad
    assert other is None or other.abs().sum() == 0
    assert all(p.grad is None for p in model.members.parameters())
    model.zero_grad()
    # S3: the student and the gate learn; teachers are frozen.
    model.set_stage('s3')
    losses = model(inputs, samples, mode='loss')
    sum(losses.values()).backward()
    assert model.members['rgb'].enc.weight.grad is not None
    assert model.members['mm'].enc.weight.grad is None
    assert model.gate.mlp[0].weight.grad is not None


def test_predict_returns_seg_data_samples_and_s2_val_kl():
    model = build()
    model.set_stage('s2')
    model.eval()
    inputs, samples = batch()
    out = model(inputs, samples, mode='predict')
    assert len(out) == 3
    assert out[0].pred_sem_seg.data.shape == (1, H, W)
    assert out[0].seg_logits.data.shape == (C, H, W)
    student = model.members['rgb'](inputs)
    assert torch.equal(out[1].pred_sem_seg.data[0], student[1].argmax(0))
    kl_sum, count = model.masknet_val_kl(inputs, samples)
    valid = sum(int((s.gt_sem_seg.data != 255).sum()) for s in samples)
    assert float(count) == valid
    assert (kl_sum > 0).all()


def test_teacher_cache_keys_by_image_path():
    model = build(cache_teacher_outputs=True)
    model.set_stage('s3')
    model.eval()
    inputs, samples = batch()
    first = model(inputs, samples, mode='loss')
    assert set(model._teacher_cache) == {'img_0.png', 'img_1.png',
                                         'img_2.png'}
    again = model(inputs, samples, mode='loss')
    assert first['loss_routed_kd'].item() == pytest.approx(
        again['loss_routed_kd'].item(), rel=1e-6)


def test_s2_validation_with_unpadded_labels():
    """In test mode mmseg pads the images to the size divisor but not the
    labels: the S2 validation KL counts only the real (non-void) pixels."""
    model = build()
    model.set_stage('s2')
    model.eval()
    inputs, samples = batch()
    for s in samples:  # labels of the unpadded image (H-2) x (W-3)
        s.gt_sem_seg = PixelData(data=s.gt_sem_seg.data[:, :H - 2, :W - 3])
    _, count = model.masknet_val_kl(inputs, samples)
    valid = sum(int((s.gt_sem_seg.data != 255).sum()) for s in samples)
    assert float(count) == valid
    labels = model.task.labels(samples)
    assert labels.shape == (3, H - 2, W - 3)
    padded = model.task.labels(samples, shape=(H, W))
    assert padded.shape == (3, H, W)
    assert (padded[:, H - 2:] == 255).all()
    assert (padded[..., W - 3:] == 255).all()
