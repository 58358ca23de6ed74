# KD (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015) on
# CrisisMMD-V2: image student (the image MLP), multimodal (MM) teacher (the
# late-fusion net), frozen, the loss of _base_/methods/kd.py (T = 4), the
# members' schedule (Table 1 protocol, _base_/schedules/baseline_crisismmd.py).
# The teacher is the run of configs/members/crisismmd_fusion.py (see
# _base_/models/crisismmd_teachers.py):
#   python tools/train.py configs/members/crisismmd_fusion.py \
#       --work-dir work_dirs/crisismmd_fusion
#   python tools/train.py configs/baselines/kd/kd_crisismmd_image_mm.py
_base_ = [
    '../../_base_/methods/kd.py',
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
        loss_kd=dict(pred='image:', target='mm:')))
