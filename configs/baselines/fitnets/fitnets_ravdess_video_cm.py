# FitNets on RAVDESS: video student, cross-modal (CM) teacher: the audio member
# (the 1-D CNN + MLP, configs/members/ravdess_audio.py), trained first:
#   python tools/train.py configs/members/ravdess_audio.py \
#       --work-dir work_dirs/ravdess_audio
# Hint: its fc2 (160-d); guided layer: the student's fc2 (see
# fitnets_ravdess_video_mm.py).
_base_ = ['./fitnets_ravdess_video_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 video={{_base_.video_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    connectors=dict(hint=dict(target='audio:fc2')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='audio:fc2'),
        loss_kd=dict(target='audio:')))
