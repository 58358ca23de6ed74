# C2KD (Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal Knowledge
# Distillation", CVPR 2024) on CrisisMMD-V2: image student (the image MLP),
# cross-modal (CM) teacher: the text member (configs/members/crisismmd_text.py,
# trained first), which keeps training, on the fly, with the student: the loss
# of _base_/methods/c2kd.py, the members' schedule (baseline_crisismmd.py).
# Proxies on the penultimate layers, fc2 (512-d), as on AV-Digits and in the
# reference release (KD_methods/C2KD.py).
# The teacher is trained first:
#   python tools/train.py configs/members/crisismmd_text.py \
#       --work-dir work_dirs/crisismmd_text
#   python tools/train.py configs/baselines/c2kd/c2kd_crisismmd_image_cm.py
_base_ = [
    '../../_base_/methods/c2kd.py',
    '../../_base_/models/crisismmd_members.py',
    '../../_base_/models/crisismmd_teachers.py',
    '../../_base_/datasets/crisismmd.py',
    '../../_base_/schedules/baseline_crisismmd.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(text={{_base_.text_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(text={{_base_.text_teacher}}),
    # out_channels (the classes) from the members' logits
    connectors=dict(
        proxy_s=dict(type='ProxyHead', source='image:fc2',
                     target='image:'),
        proxy_t=dict(type='ProxyHead', source='text:fc2',
                     target='text:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ce_t=dict(logits='text:', labels='labels'),
        loss_bd_s=dict(logits=['proxy_s', 'image:']),
        loss_bd_t=dict(logits=['proxy_t', 'text:']),
        loss_ofsd=dict(pred='proxy_s', target='proxy_t', labels='labels')),
    stages=dict(
        train=dict(trainable=['student', 'members.text',
                              'connectors.proxy_s', 'connectors.proxy_t'])))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
