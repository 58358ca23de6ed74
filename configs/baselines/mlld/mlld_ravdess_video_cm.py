# MLLD on RAVDESS: video student, cross-modal (CM) teacher: the audio member
# (the 1-D CNN + MLP, configs/members/ravdess_audio.py), trained first:
#   python tools/train.py configs/members/ravdess_audio.py \
#       --work-dir work_dirs/ravdess_audio
_base_ = ['./mlld_ravdess_video_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 video={{_base_.video_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    loss_forward_mappings=dict(loss_mlld=dict(target='audio:')))
