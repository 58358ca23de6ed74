# C2KD on RAVDESS: audio student, cross-modal (CM) teacher: the video member
# (the 3-D CNN + MLP, configs/members/ravdess_video.py), trained first:
#   python tools/train.py configs/members/ravdess_video.py \
#       --work-dir work_dirs/ravdess_video
# Proxies on the student's fc2 (160-d) and the teacher's fc2 (160-d) (see
# c2kd_ravdess_video_cm.py).
_base_ = ['./c2kd_ravdess_video_cm.py']
model = dict(
    members=dict(_delete_=True, video={{_base_.video_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, video={{_base_.video_teacher}}),
    connectors=dict(
        proxy_s=dict(source='audio:fc2', target='audio:'),
        proxy_t=dict(source='video:fc2', target='video:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_ce_t=dict(logits='video:'),
        loss_bd_s=dict(logits=['proxy_s', 'audio:']),
        loss_bd_t=dict(logits=['proxy_t', 'video:'])),
    stages=dict(train=dict(trainable=['student', 'members.video',
                                      'connectors.proxy_s',
                                      'connectors.proxy_t'])))
