# RKD (Park et al., "Relational Knowledge Distillation", CVPR 2019) on
# CrisisMMD-V2: image student (the image MLP), multimodal (MM) teacher, frozen.
# The loss of _base_/methods/rkd.py between the student's penultimate feature,
# fc2 (512-d), and the teacher's, fusion.fc2 (256-d); the members' schedule
# (baseline_crisismmd.py).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release, also the second MaskNet layer of
# configs/mst/mst_crisismmd_*.py: fc2 (512-d) of the MLPs, fusion.fc2 (256-d)
# of the fusion net.
# The teacher is the run of configs/members/crisismmd_fusion.py (see
# _base_/models/crisismmd_teachers.py):
#   python tools/train.py configs/members/crisismmd_fusion.py \
#       --work-dir work_dirs/crisismmd_fusion
#   python tools/train.py configs/baselines/rkd/rkd_crisismmd_image_mm.py
_base_ = [
    '../../_base_/methods/rkd.py',
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
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_rkd=dict(pred='image:fc2', target='mm:fusion.fc2')))
