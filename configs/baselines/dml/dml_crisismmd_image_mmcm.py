# DML (Zhang et al., "Deep Mutual Learning", CVPR 2018) on CrisisMMD-V2 with
# the paper's MM+CM teacher configuration: the image student, the multimodal
# net and the text net are peers trained together from scratch, each with the
# loss of _base_/methods/dml.py (K = 3), the members' schedule
# (baseline_crisismmd.py). The image peer is the deployed student (model
# selection and tools/test.py). No teacher to train first:
#   python tools/train.py configs/baselines/dml/dml_crisismmd_image_mmcm.py
_base_ = [
    '../../_base_/methods/dml.py',
    '../../_base_/models/crisismmd_members.py',
    '../../_base_/datasets/crisismmd.py',
    '../../_base_/schedules/baseline_crisismmd.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(
        mm={{_base_.fusion_member}},
        image={{_base_.image_member}},
        text={{_base_.text_member}}),
    target='image',
    losses=dict(
        loss_ce_image=dict(type='CrossEntropyLoss'),
        loss_ce_mm=dict(type='CrossEntropyLoss'),
        loss_ce_text=dict(type='CrossEntropyLoss'),
        loss_mutual=dict(
            type='MutualKLLoss', temperature=1.0, detach=True,
            peer_mean=True)),
    loss_forward_mappings=dict(
        loss_ce_image=dict(logits='image:', labels='labels'),
        loss_ce_mm=dict(logits='mm:', labels='labels'),
        loss_ce_text=dict(logits='text:', labels='labels'),
        loss_mutual=dict(logits=['image:', 'mm:', 'text:'])))
