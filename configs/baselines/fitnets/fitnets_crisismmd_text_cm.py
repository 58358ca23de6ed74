# FitNets on CrisisMMD-V2: text student, cross-modal (CM) teacher: the image
# member (the image MLP, configs/members/crisismmd_image.py), trained first:
#   python tools/train.py configs/members/crisismmd_image.py \
#       --work-dir work_dirs/crisismmd_image
# Hint: its fc2 (512-d); guided layer: the student's fc2 (see
# fitnets_crisismmd_text_mm.py).
_base_ = ['./fitnets_crisismmd_text_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 text={{_base_.text_member}}),
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(hint=dict(target='image:fc2')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='image:fc2'),
        loss_kd=dict(target='image:')))
