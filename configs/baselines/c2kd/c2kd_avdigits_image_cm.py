# C2KD (Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal Knowledge
# Distillation", CVPR 2024) on AV-Digits: image student, cross-modal (CM)
# teacher: the audio member (configs/members/avdigits_audio.py, trained first),
# which keeps training, on the fly, with the student: the loss of
# _base_/methods/c2kd.py with the proxies on the student's fc1 (84-d) and on
# the teacher's pooled feature fc@input (1024-d), 30 epochs.
#   python tools/train.py configs/members/avdigits_audio.py \
#       --work-dir work_dirs/avdigits_audio
#   python tools/train.py configs/baselines/c2kd/c2kd_avdigits_image_cm.py
# The release's non-target distribution (target logit set to 0, softmax over
# every class): --cfg-options model.losses.loss_ofsd.target=zero
_base_ = [
    '../../_base_/methods/c2kd.py',
    '../../_base_/models/avdigits_members.py',
    '../../_base_/models/avdigits_teachers.py',
    '../../_base_/datasets/avdigits.py',
    '../../_base_/schedules/baseline_avdigits.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(audio={{_base_.audio_teacher}}),
    # out_channels (the classes) from the members' logits
    connectors=dict(
        proxy_s=dict(type='ProxyHead', source='image:fc1', target='image:'),
        proxy_t=dict(type='ProxyHead', source='audio:fc@input',
                     target='audio:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ce_t=dict(logits='audio:', labels='labels'),
        loss_bd_s=dict(logits=['proxy_s', 'image:']),
        loss_bd_t=dict(logits=['proxy_t', 'audio:']),
        loss_ofsd=dict(pred='proxy_s', target='proxy_t', labels='labels')),
    stages=dict(
        train=dict(trainable=['student', 'members.audio', 'connectors.proxy_s',
                              'connectors.proxy_t'])))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train=30), val_interval=1)
