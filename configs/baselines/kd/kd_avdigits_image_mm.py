# KD (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015)
# on AV-Digits: image student, multimodal (MM) teacher, frozen.
# The loss of _base_/methods/kd.py with T = 4 (the paper's Table 1
# protocol). The teacher is the run of
# configs/members/avdigits_fusion.py (see _base_/models/avdigits_teachers.py):
#   python tools/train.py configs/members/avdigits_fusion.py \
#       --work-dir work_dirs/avdigits_fusion
#   python tools/train.py configs/baselines/kd/kd_avdigits_image_mm.py
# The reference release (main-KD.py) weighs (1 - alpha) CE + alpha KL with
# alpha = 0.5 halved after every 30 epochs: kd_avdigits_image_mm_release.py.
_base_ = [
    '../../_base_/methods/kd.py',
    '../../_base_/models/avdigits_members.py',
    '../../_base_/models/avdigits_teachers.py',
    '../../_base_/datasets/avdigits.py',
    '../../_base_/schedules/baseline_avdigits.py',
    '../../_base_/default_runtime.py'
]
temperature = 4.0
model = dict(
    members=dict(mm={{_base_.fusion_member}}, image={{_base_.image_member}}),
    target='image',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    losses=dict(loss_kd=dict(temperature=temperature)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        # the teacher's logits; the KL detaches its target
        loss_kd=dict(pred='image:', target='mm:')))
