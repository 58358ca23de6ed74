# OFA (Hao et al., "One-for-All: Bridge the Gap Between Heterogeneous
# Architectures in Knowledge Distillation", NeurIPS 2023) on AV-Digits:
# image student, multimodal (MM) teacher, frozen. The loss of
# _base_/methods/ofa.py (eps = 1.0, T = 1) on three student branches (LeNet5
# conv1, conv2, fc1), 30 epochs.
#   python tools/train.py configs/members/avdigits_fusion.py \
#       --work-dir work_dirs/avdigits_fusion
#   python tools/train.py configs/baselines/ofa/ofa_avdigits_image_mm.py
# The reference release (main-OFA.py, KD_methods/OFA.py): the mean over the
# branches, no logit term, eps = 1.1, 0.5 CE + 0.5 OFA:
# ofa_avdigits_image_mm_release.py.
_base_ = [
    '../../_base_/methods/ofa.py',
    '../../_base_/models/avdigits_members.py',
    '../../_base_/models/avdigits_teachers.py',
    '../../_base_/datasets/avdigits.py',
    '../../_base_/schedules/baseline_avdigits.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}}, image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    # out_channels (the classes) from the teacher's logits
    connectors=dict(
        proj1=dict(type='OFAProjector', source='image:conv1', target='mm:'),
        proj2=dict(type='OFAProjector', source='image:conv2', target='mm:'),
        proj3=dict(type='OFAProjector', source='image:fc1', target='mm:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ofa=dict(preds=['proj1', 'proj2', 'proj3'], target='mm:',
                      labels='labels'),
        loss_ofa_logits=dict(preds='image:', target='mm:',
                             labels='labels')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train=30), val_interval=1)
