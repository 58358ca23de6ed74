# FitNets on VGGSound-50k: audio student, cross-modal (CM) teacher: the visual
# member (the 3-D CNN + MLP, configs/members/vggsound50k_visual.py), trained
# first:
#   python tools/train.py configs/members/vggsound50k_visual.py \
#       --work-dir work_dirs/vggsound50k_visual
# Hint: its fc2 (160-d); guided layer: the student's fc2 (see
# fitnets_vggsound50k_audio_mm.py).
_base_ = ['./fitnets_vggsound50k_audio_mm.py']
model = dict(
    members=dict(_delete_=True, visual={{_base_.visual_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, visual={{_base_.visual_teacher}}),
    connectors=dict(hint=dict(target='visual:fc2')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='visual:fc2'),
        loss_kd=dict(target='visual:')))
