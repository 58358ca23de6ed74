# MGDFR on CrisisMMD-V2: text student, cross-modal (CM) teacher: the image
# member (the image MLP, configs/members/crisismmd_image.py), trained first:
#   python tools/train.py configs/members/crisismmd_image.py \
#       --work-dir work_dirs/crisismmd_image
# The teacher's ranked feature: fc2 (512) (see mgdfr_crisismmd_image_cm.py).
_base_ = ['./mgdfr_crisismmd_image_cm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 text={{_base_.text_member}}),
    target='text',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    teacher='image',
    feature='image:fc2',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='text:'),
        loss_ce_t=dict(logits='image:'),
        loss_overlap=dict(pred='text:', target='image:')),
    stages=dict(overlap=dict(trainable=['student', 'members.image'])))
