# DML (Zhang et al., "Deep Mutual Learning", CVPR 2018) on RAVDESS with the
# paper's MM+CM teacher configuration: the video student, the multimodal net
# and the audio net are peers trained together from scratch, each with the loss
# of _base_/methods/dml.py (K = 3), the members' schedule
# (baseline_ravdess.py). The video peer is the deployed student (model
# selection and tools/test.py). No teacher to train first:
#   python tools/train.py configs/baselines/dml/dml_ravdess_video_mmcm.py
_base_ = [
    '../../_base_/methods/dml.py',
    '../../_base_/models/ravdess_members.py',
    '../../_base_/datasets/ravdess.py',
    '../../_base_/schedules/baseline_ravdess.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(
        mm={{_base_.fusion_member}},
        video={{_base_.video_member}},
        audio={{_base_.audio_member}}),
    target='video',
    losses=dict(
        loss_ce_video=dict(type='CrossEntropyLoss'),
        loss_ce_mm=dict(type='CrossEntropyLoss'),
        loss_ce_audio=dict(type='CrossEntropyLoss'),
        loss_mutual=dict(
            type='MutualKLLoss', temperature=1.0, detach=True,
            peer_mean=True)),
    loss_forward_mappings=dict(
        loss_ce_video=dict(logits='video:', labels='labels'),
        loss_ce_mm=dict(logits='mm:', labels='labels'),
        loss_ce_audio=dict(logits='audio:', labels='labels'),
        loss_mutual=dict(logits=['video:', 'mm:', 'audio:'])))
