# MGDFR on AV-Digits: audio student, cross-modal (CM) teacher: the image
# member (configs/members/avdigits_image.py, trained first; see
# mgdfr_avdigits_image_cm.py). The teacher's ranked feature: LeNet5 fc1
# (84-d), as the release for a LeNet5 teacher.
_base_ = ['./mgdfr_avdigits_image_cm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    teacher='image',
    feature='image:fc1',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_ce_t=dict(logits='image:'),
        loss_overlap=dict(pred='audio:', target='image:')),
    stages=dict(overlap=dict(trainable=['student', 'members.image'])))
