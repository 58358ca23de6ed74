# FitNets on RAVDESS: audio student, cross-modal (CM) teacher: the video member
# (the 3-D CNN + MLP, configs/members/ravdess_video.py), trained first:
#   python tools/train.py configs/members/ravdess_video.py \
#       --work-dir work_dirs/ravdess_video
# Hint: its fc2 (160-d); guided layer: the student's fc2 (see
# fitnets_ravdess_audio_mm.py).
_base_ = ['./fitnets_ravdess_audio_mm.py']
model = dict(
    members=dict(_delete_=True, video={{_base_.video_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, video={{_base_.video_teacher}}),
    connectors=dict(hint=dict(target='video:fc2')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='video:fc2'),
        loss_kd=dict(target='video:')))
