# C2KD on AV-Digits: audio student, cross-modal (CM) teacher: the image
# member (configs/members/avdigits_image.py, trained first; see
# c2kd_avdigits_image_cm.py). Proxies on the student's pooled feature
# (fc@input, 1024-d) and the teacher's fc1 (84-d).
_base_ = ['./c2kd_avdigits_image_cm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(
        proxy_s=dict(source='audio:fc@input', target='audio:'),
        proxy_t=dict(source='image:fc1', target='image:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_ce_t=dict(logits='image:'),
        loss_bd_s=dict(logits=['proxy_s', 'audio:']),
        loss_bd_t=dict(logits=['proxy_t', 'image:'])),
    stages=dict(train=dict(trainable=['student', 'members.image',
                                      'connectors.proxy_s',
                                      'connectors.proxy_t'])))
