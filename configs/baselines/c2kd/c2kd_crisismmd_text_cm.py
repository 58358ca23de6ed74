# C2KD on CrisisMMD-V2: text student, cross-modal (CM) teacher: the image
# member (the image MLP, configs/members/crisismmd_image.py), trained first:
#   python tools/train.py configs/members/crisismmd_image.py \
#       --work-dir work_dirs/crisismmd_image
# Proxies on the student's fc2 (512-d) and the teacher's fc2 (512-d) (see
# c2kd_crisismmd_image_cm.py).
_base_ = ['./c2kd_crisismmd_image_cm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 text={{_base_.text_member}}),
    target='text',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(
        proxy_s=dict(source='text:fc2', target='text:'),
        proxy_t=dict(source='image:fc2', target='image:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='text:'),
        loss_ce_t=dict(logits='image:'),
        loss_bd_s=dict(logits=['proxy_s', 'text:']),
        loss_bd_t=dict(logits=['proxy_t', 'image:'])),
    stages=dict(train=dict(trainable=['student', 'members.image',
                                      'connectors.proxy_s',
                                      'connectors.proxy_t'])))
