# DML (Zhang et al., "Deep Mutual Learning", CVPR 2018) on AV-Digits with the
# paper's MM+CM teacher configuration: the image student, the multimodal net
# and the audio net are peers trained together from scratch, each with the loss
# of _base_/methods/dml.py (K = 3). The image peer is the deployed student
# (model selection and tools/test.py).
#   python tools/train.py configs/baselines/dml/dml_avdigits_image_mmcm.py
_base_ = [
    '../../_base_/methods/dml.py',
    '../../_base_/models/avdigits_members.py',
    '../../_base_/datasets/avdigits.py',
    '../../_base_/schedules/baseline_avdigits.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(
        mm={{_base_.fusion_member}},
        image={{_base_.image_member}},
        audio={{_base_.audio_member}}),
    target='image',
    losses=dict(
        loss_ce_image=dict(type='CrossEntropyLoss'),
        loss_ce_mm=dict(type='CrossEntropyLoss'),
        loss_ce_audio=dict(type='CrossEntropyLoss'),
        loss_mutual=dict(
            type='MutualKLLoss', temperature=1.0, detach=True, peer_mean=True)),
    loss_forward_mappings=dict(
        loss_ce_image=dict(logits='image:', labels='labels'),
        loss_ce_mm=dict(logits='mm:', labels='labels'),
        loss_ce_audio=dict(logits='audio:', labels='labels'),
        loss_mutual=dict(logits=['image:', 'mm:', 'audio:'])))
