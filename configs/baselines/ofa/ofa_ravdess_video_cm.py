# OFA on RAVDESS: video student, cross-modal (CM) teacher: the audio member
# (the 1-D CNN + MLP, configs/members/ravdess_audio.py), trained first:
#   python tools/train.py configs/members/ravdess_audio.py \
#       --work-dir work_dirs/ravdess_audio
_base_ = ['./ofa_ravdess_video_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 video={{_base_.video_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    connectors=dict(proj1=dict(target='audio:'),
                    proj2=dict(target='audio:'),
                    proj3=dict(target='audio:')),
    loss_forward_mappings=dict(loss_ofa=dict(target='audio:'),
                               loss_ofa_logits=dict(target='audio:')))
