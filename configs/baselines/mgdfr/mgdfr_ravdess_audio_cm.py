# MGDFR on RAVDESS: audio student, cross-modal (CM) teacher: the video member
# (the 3-D CNN + MLP, configs/members/ravdess_video.py), trained first:
#   python tools/train.py configs/members/ravdess_video.py \
#       --work-dir work_dirs/ravdess_video
# The teacher's ranked feature: fc2 (160) (see mgdfr_ravdess_video_cm.py).
_base_ = ['./mgdfr_ravdess_video_cm.py']
model = dict(
    members=dict(_delete_=True, video={{_base_.video_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, video={{_base_.video_teacher}}),
    teacher='video',
    feature='video:fc2',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_ce_t=dict(logits='video:'),
        loss_overlap=dict(pred='audio:', target='video:')),
    stages=dict(overlap=dict(trainable=['student', 'members.video'])))
