# OFA (Hao et al., "One-for-All: Bridge the Gap Between Heterogeneous
# Architectures in Knowledge Distillation", NeurIPS 2023) on VGGSound-50k:
# visual student (the 3-D CNN + MLP), multimodal (MM) teacher, frozen. The loss
# of _base_/methods/ofa.py (eps = 1.0, T = 1) on the student branches below,
# the members' schedule (baseline_vggsound50k.py).
# Branches, as the reference release (KD_methods/OFA.py) on VGGSound-50k: the
# conv trunk's flattened output (fc1@input: visual 128-d, audio 256-d), fc1
# (320-d) and fc2 (160-d). OFAProjector takes vectors or 2-D maps, not the 3-D
# and 1-D conv maps of these members.
# The teacher is the run of configs/members/vggsound50k_fusion.py (see
# _base_/models/vggsound50k_teachers.py):
#   python tools/train.py configs/members/vggsound50k_fusion.py \
#       --work-dir work_dirs/vggsound50k_fusion
#   python tools/train.py configs/baselines/ofa/ofa_vggsound50k_visual_mm.py
_base_ = [
    '../../_base_/methods/ofa.py',
    '../../_base_/models/vggsound50k_members.py',
    '../../_base_/models/vggsound50k_teachers.py',
    '../../_base_/datasets/vggsound50k.py',
    '../../_base_/schedules/baseline_vggsound50k.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 visual={{_base_.visual_member}}),
    target='visual',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    # out_channels (the classes) from the teacher's logits
    connectors=dict(
        proj1=dict(type='OFAProjector', source='visual:fc1@input',
                   target='mm:'),
        proj2=dict(type='OFAProjector', source='visual:fc1',
                   target='mm:'),
        proj3=dict(type='OFAProjector', source='visual:fc2',
                   target='mm:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='visual:', labels='labels'),
        loss_ofa=dict(preds=['proj1', 'proj2', 'proj3'], target='mm:',
                      labels='labels'),
        loss_ofa_logits=dict(preds='visual:', target='mm:',
                             labels='labels')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
