# RKD on RAVDESS: audio student, cross-modal (CM) teacher: the video member
# (the 3-D CNN + MLP, configs/members/ravdess_video.py), trained first:
#   python tools/train.py configs/members/ravdess_video.py \
#       --work-dir work_dirs/ravdess_video
# Its feature: fc2 (160-d).
_base_ = ['./rkd_ravdess_video_mm.py']
model = dict(
    members=dict(_delete_=True, video={{_base_.video_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, video={{_base_.video_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_rkd=dict(pred='audio:fc2', target='video:fc2')))
