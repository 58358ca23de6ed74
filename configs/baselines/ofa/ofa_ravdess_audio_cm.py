# OFA on RAVDESS: audio student, cross-modal (CM) teacher: the video member
# (the 3-D CNN + MLP, configs/members/ravdess_video.py), trained first:
#   python tools/train.py configs/members/ravdess_video.py \
#       --work-dir work_dirs/ravdess_video
# Student branches as in ofa_ravdess_audio_mm.py.
_base_ = ['./ofa_ravdess_audio_mm.py']
model = dict(
    members=dict(_delete_=True, video={{_base_.video_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, video={{_base_.video_teacher}}),
    connectors=dict(proj1=dict(target='video:'),
                    proj2=dict(target='video:'),
                    proj3=dict(target='video:')),
    loss_forward_mappings=dict(loss_ofa=dict(target='video:'),
                               loss_ofa_logits=dict(target='video:')))
