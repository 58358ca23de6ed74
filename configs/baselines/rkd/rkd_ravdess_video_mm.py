# RKD (Park et al., "Relational Knowledge Distillation", CVPR 2019) on RAVDESS:
# video student (the 3-D CNN + MLP), multimodal (MM) teacher, frozen.
# The loss of _base_/methods/rkd.py between the student's penultimate feature,
# fc2 (160-d), and the teacher's, fusion.fc2 (160-d); the members' schedule
# (baseline_ravdess.py).
# Layers: the penultimate embeddings (the features the heads receive), as on
# AV-Digits and in the reference release, also the second MaskNet layer of
# configs/mst/mst_ravdess_*.py: fc2 (160-d) of the unimodal members, fusion.fc2
# (160-d) of the fusion net.
# The teacher is the run of configs/members/ravdess_fusion.py (see
# _base_/models/ravdess_teachers.py):
#   python tools/train.py configs/members/ravdess_fusion.py \
#       --work-dir work_dirs/ravdess_fusion
#   python tools/train.py configs/baselines/rkd/rkd_ravdess_video_mm.py
_base_ = [
    '../../_base_/methods/rkd.py',
    '../../_base_/models/ravdess_members.py',
    '../../_base_/models/ravdess_teachers.py',
    '../../_base_/datasets/ravdess.py',
    '../../_base_/schedules/baseline_ravdess.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(mm={{_base_.fusion_member}},
                 video={{_base_.video_member}}),
    target='video',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='video:', labels='labels'),
        loss_rkd=dict(pred='video:fc2', target='mm:fusion.fc2')))
