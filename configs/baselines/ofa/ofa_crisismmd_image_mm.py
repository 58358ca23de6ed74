# OFA (Hao et al., "One-for-All: Bridge the Gap Between Heterogeneous
# Architectures in Knowledge Distillation", NeurIPS 2023) on CrisisMMD-V2:
# image student (the image MLP), multimodal (MM) teacher, frozen. The loss of
# _base_/methods/ofa.py (eps = 1.0, T = 1) on the student branches below, the
# members' schedule (baseline_crisismmd.py).
# Branches, as the reference release (KD_methods/OFA.py) on CrisisMMD-V2: the
# MLP's two hidden layers fc1 (1024-d) and fc2 (512-d), two projectors.
# The teacher is the run of configs/members/crisismmd_fusion.py (see
# _base_/models/crisismmd_teachers.py):
#   python tools/train.py configs/members/crisismmd_fusion.py \
#       --work-dir work_dirs/crisismmd_fusion
#   python tools/train.py configs/baselines/ofa/ofa_crisismmd_image_mm.py
_base_ = [
    '../../_base_/methods/ofa.py',
    '../../_base_/models/crisismmd_members.py',
    '../../_base_/models/crisismmd_teachers.py',
    '../../_base_/datasets/crisismmd.py',
    '../../_base_/schedules/baseline_crisismmd.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    # out_channels (the classes) from the teacher's logits
    connectors=dict(
        proj1=dict(type='OFAProjector', source='image:fc1',
                   target='mm:'),
        proj2=dict(type='OFAProjector', source='image:fc2',
                   target='mm:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ofa=dict(preds=['proj1', 'proj2'], target='mm:',
                      labels='labels'),
        loss_ofa_logits=dict(preds='image:', target='mm:',
                             labels='labels')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
