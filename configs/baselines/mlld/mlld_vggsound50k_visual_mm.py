# MLLD (Jin et al., "Multi-Level Logit Distillation", CVPR 2023) on
# VGGSound-50k: visual student (the 3-D CNN + MLP), multimodal (MM) teacher
# (the late-fusion net), frozen, the loss of _base_/methods/mlld.py, the
# members' schedule (Table 1 protocol,
# _base_/schedules/baseline_vggsound50k.py). The teacher is the run of
# configs/members/vggsound50k_fusion.py (see
# _base_/models/vggsound50k_teachers.py):
#   python tools/train.py configs/members/vggsound50k_fusion.py \
#       --work-dir work_dirs/vggsound50k_fusion
#   python tools/train.py configs/baselines/mlld/mlld_vggsound50k_visual_mm.py
_base_ = [
    '../../_base_/methods/mlld.py',
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
        loss_mlld=dict(pred='visual:', target='mm:')))
