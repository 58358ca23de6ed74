# RKD (Park et al., "Relational Knowledge Distillation", CVPR 2019) on
# AV-Digits: image student, multimodal (MM) teacher, frozen.
# The loss of _base_/methods/rkd.py between the student's penultimate feature
# (LeNet5 fc1, 84-d) and the teacher's (the fusion net's fc1, 170-d), 30
# epochs (_base_/schedules/baseline_avdigits.py).
#   python tools/train.py configs/members/avdigits_fusion.py \
#       --work-dir work_dirs/avdigits_fusion
#   python tools/train.py configs/baselines/rkd/rkd_avdigits_image_mm.py
# The reference release (main-RKD.py, KD_methods/RKD.py) embeds both
# features with trainable linear + L2 heads (128-d) and weighs
# 0.5 CE + 0.5 RKD: rkd_avdigits_image_mm_release.py.
_base_ = [
    '../../_base_/methods/rkd.py',
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
        loss_rkd=dict(pred='image:fc1', target='mm:fusion.fc1')))
