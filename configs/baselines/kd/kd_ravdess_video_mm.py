# KD (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015) on
# RAVDESS: video student (the 3-D CNN + MLP), multimodal (MM) teacher (the
# late-fusion net), frozen.
#   loss = CE(student, y)
#        + T^2 KL(softmax(teacher / T) || softmax(student / T))
# with T = 4 and the members' schedule (Table 1 protocol,
# _base_/schedules/baseline_ravdess.py). The teacher is the run of
# configs/members/ravdess_fusion.py (see _base_/models/ravdess_teachers.py):
#   python tools/train.py configs/members/ravdess_fusion.py \
#       --work-dir work_dirs/ravdess_fusion
#   python tools/train.py configs/baselines/kd/kd_ravdess_video_mm.py
_base_ = [
    '../../_base_/models/ravdess_members.py',
    '../../_base_/models/ravdess_teachers.py',
    '../../_base_/datasets/ravdess.py',
    '../../_base_/schedules/baseline_ravdess.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    type='ConfigurableDistiller',
    members=dict(mm={{_base_.fusion_member}},
                 video={{_base_.video_member}}),
    target='video',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='video:', labels='labels'),
        loss_kd=dict(pred='video:', target='mm:')))
