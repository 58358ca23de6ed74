# C2KD (Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal Knowledge
# Distillation", CVPR 2024) on RAVDESS: video student (the 3-D CNN + MLP),
# cross-modal (CM) teacher: the audio member (configs/members/ravdess_audio.py,
# trained first), which keeps training, on the fly, with the student: the loss
# of _base_/methods/c2kd.py, the members' schedule (baseline_ravdess.py).
# Proxies on the penultimate layers, fc2 (160-d), as on AV-Digits; the
# reference release (KD_methods/C2KD.py) puts them on fc1 (320-d) here:
#   --cfg-options model.connectors.proxy_s.source=video:fc1 \
#       model.connectors.proxy_t.source=audio:fc1
# The teacher is trained first:
#   python tools/train.py configs/members/ravdess_audio.py \
#       --work-dir work_dirs/ravdess_audio
#   python tools/train.py configs/baselines/c2kd/c2kd_ravdess_video_cm.py
_base_ = [
    '../../_base_/methods/c2kd.py',
    '../../_base_/models/ravdess_members.py',
    '../../_base_/models/ravdess_teachers.py',
    '../../_base_/datasets/ravdess.py',
    '../../_base_/schedules/baseline_ravdess.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(audio={{_base_.audio_member}},
                 video={{_base_.video_member}}),
    target='video',
    pretrained=dict(audio={{_base_.audio_teacher}}),
    # out_channels (the classes) from the members' logits
    connectors=dict(
        proxy_s=dict(type='ProxyHead', source='video:fc2',
                     target='video:'),
        proxy_t=dict(type='ProxyHead', source='audio:fc2',
                     target='audio:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='video:', labels='labels'),
        loss_ce_t=dict(logits='audio:', labels='labels'),
        loss_bd_s=dict(logits=['proxy_s', 'video:']),
        loss_bd_t=dict(logits=['proxy_t', 'audio:']),
        loss_ofsd=dict(pred='proxy_s', target='proxy_t', labels='labels')),
    stages=dict(
        train=dict(trainable=['student', 'members.audio',
                              'connectors.proxy_s', 'connectors.proxy_t'])))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
