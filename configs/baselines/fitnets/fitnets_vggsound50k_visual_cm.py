# FitNets on VGGSound-50k: visual student, cross-modal (CM) teacher: the audio
# member (the 1-D CNN + MLP, configs/members/vggsound50k_audio.py), trained
# first:
#   python tools/train.py configs/members/vggsound50k_audio.py \
#       --work-dir work_dirs/vggsound50k_audio
# Hint: its fc2 (160-d); guided layer: the student's fc2 (see
# fitnets_vggsound50k_visual_mm.py).
_base_ = ['./fitnets_vggsound50k_visual_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 visual={{_base_.visual_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    connectors=dict(hint=dict(target='audio:fc2')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='audio:fc2'),
        loss_kd=dict(target='audio:')))
