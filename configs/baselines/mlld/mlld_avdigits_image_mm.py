# MLLD (Jin et al., "Multi-Level Logit Distillation", CVPR 2023) on AV-Digits:
# image student, multimodal (MM) teacher, frozen, the loss of
# _base_/methods/mlld.py, 30 epochs (_base_/schedules/baseline_avdigits.py).
# The teacher is the run of configs/members/avdigits_fusion.py (see
# _base_/models/avdigits_teachers.py):
#   python tools/train.py configs/members/avdigits_fusion.py \
#       --work-dir work_dirs/avdigits_fusion
#   python tools/train.py configs/baselines/mlld/mlld_avdigits_image_mm.py
# The reference release (main-MLLD.py, KD_methods/MLLD.py) weighs
# 0.5 CE + 0.5 MLLD and normalises the terms differently:
# mlld_avdigits_image_mm_release.py.
_base_ = [
    '../../_base_/methods/mlld.py',
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
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_mlld=dict(pred='image:', target='mm:')))
