# MLLD (Jin et al., "Multi-Level Logit Distillation", CVPR 2023) on RAVDESS:
# video student (the 3-D CNN + MLP), multimodal (MM) teacher (the late-fusion
# net), frozen, the loss of _base_/methods/mlld.py, the members' schedule
# (Table 1 protocol, _base_/schedules/baseline_ravdess.py). The teacher is the
# run of configs/members/ravdess_fusion.py (see
# _base_/models/ravdess_teachers.py):
#   python tools/train.py configs/members/ravdess_fusion.py \
#       --work-dir work_dirs/ravdess_fusion
#   python tools/train.py configs/baselines/mlld/mlld_ravdess_video_mm.py
_base_ = [
    '../../_base_/methods/mlld.py',
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
        loss_mlld=dict(pred='video:', target='mm:')))
