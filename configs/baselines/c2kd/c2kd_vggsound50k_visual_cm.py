# C2KD (Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal Knowledge
# Distillation", CVPR 2024) on VGGSound-50k: visual student (the 3-D CNN +
# MLP), cross-modal (CM) teacher: the audio member
# (configs/members/vggsound50k_audio.py, trained first), which keeps training,
# on the fly, with the student: the loss of _base_/methods/c2kd.py, the
# members' schedule (baseline_vggsound50k.py).
# Proxies on the penultimate layers, fc2 (160-d), as on AV-Digits; the
# reference release (KD_methods/C2KD.py) puts them on fc1 (320-d) here:
#   --cfg-options model.connectors.proxy_s.source=visual:fc1 \
#       model.connectors.proxy_t.source=audio:fc1
# The teacher is trained first:
#   python tools/train.py configs/members/vggsound50k_audio.py \
#       --work-dir work_dirs/vggsound50k_audio
#   python tools/train.py configs/baselines/c2kd/c2kd_vggsound50k_visual_cm.py
_base_ = [
    '../../_base_/methods/c2kd.py',
    '../../_base_/models/vggsound50k_members.py',
    '../../_base_/models/vggsound50k_teachers.py',
    '../../_base_/datasets/vggsound50k.py',
    '../../_base_/schedules/baseline_vggsound50k.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(audio={{_base_.audio_member}},
                 visual={{_base_.visual_member}}),
    target='visual',
    pretrained=dict(audio={{_base_.audio_teacher}}),
    # out_channels (the classes) from the members' logits
    connectors=dict(
        proxy_s=dict(type='ProxyHead', source='visual:fc2',
                     target='visual:'),
        proxy_t=dict(type='ProxyHead', source='audio:fc2',
                     target='audio:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='visual:', labels='labels'),
        loss_ce_t=dict(logits='audio:', labels='labels'),
        loss_bd_s=dict(logits=['proxy_s', 'visual:']),
        loss_bd_t=dict(logits=['proxy_t', 'audio:']),
        loss_ofsd=dict(pred='proxy_s', target='proxy_t', labels='labels')),
    stages=dict(
        train=dict(trainable=['student', 'members.audio',
                              'connectors.proxy_s', 'connectors.proxy_t'])))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
