# RKD (Park et al., "Relational Knowledge Distillation", CVPR 2019) on
# VGGSound-50k: visual student (the 3-D CNN + MLP), multimodal (MM) teacher,
# frozen.
# The loss of _base_/methods/rkd.py between the student's penultimate feature,
# fc2 (160-d), and the teacher's, fusion.fc2 (160-d); the members' schedule
# (baseline_vggsound50k.py).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release, also the second MaskNet layer of
# configs/mst/mst_vggsound50k_*.py: fc2 (160-d) of the unimodal members,
# fusion.fc2 (160-d) of the fusion net.
# The teacher is the run of configs/members/vggsound50k_fusion.py (see
# _base_/models/vggsound50k_teachers.py):
#   python tools/train.py configs/members/vggsound50k_fusion.py \
#       --work-dir work_dirs/vggsound50k_fusion
#   python tools/train.py configs/baselines/rkd/rkd_vggsound50k_visual_mm.py
_base_ = [
    '../../_base_/methods/rkd.py',
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
    loss_forward_mappings=dict(
        loss_ce=dict(logits='visual:', labels='labels'),
        loss_rkd=dict(pred='visual:fc2', target='mm:fusion.fc2')))
