# DML (Zhang et al., "Deep Mutual Learning", CVPR 2018) on VGGSound-50k with
# the paper's MM+CM teacher configuration: the visual student, the multimodal
# net and the audio net are peers trained together from scratch, each with the
# loss of _base_/methods/dml.py (K = 3), the members' schedule
# (baseline_vggsound50k.py). The visual peer is the deployed student (model
# selection and tools/test.py). No teacher to train first:
#   python tools/train.py configs/baselines/dml/dml_vggsound50k_visual_mmcm.py
_base_ = [
    '../../_base_/methods/dml.py',
    '../../_base_/models/vggsound50k_members.py',
    '../../_base_/datasets/vggsound50k.py',
    '../../_base_/schedules/baseline_vggsound50k.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(
        mm={{_base_.fusion_member}},
        visual={{_base_.visual_member}},
        audio={{_base_.audio_member}}),
    target='visual',
    losses=dict(
        loss_ce_visual=dict(type='CrossEntropyLoss'),
        loss_ce_mm=dict(type='CrossEntropyLoss'),
        loss_ce_audio=dict(type='CrossEntropyLoss'),
        loss_mutual=dict(
            type='MutualKLLoss', temperature=1.0, detach=True,
            peer_mean=True)),
    loss_forward_mappings=dict(
        loss_ce_visual=dict(logits='visual:', labels='labels'),
        loss_ce_mm=dict(logits='mm:', labels='labels'),
        loss_ce_audio=dict(logits='audio:', labels='labels'),
        loss_mutual=dict(logits=['visual:', 'mm:', 'audio:'])))
