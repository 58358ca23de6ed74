# FitNets on CrisisMMD-V2: image student, cross-modal (CM) teacher: the text
# member (the text MLP, configs/members/crisismmd_text.py), trained first:
#   python tools/train.py configs/members/crisismmd_text.py \
#       --work-dir work_dirs/crisismmd_text
# Hint: its fc2 (512-d); guided layer: the student's fc2 (see
# fitnets_crisismmd_image_mm.py).
_base_ = ['./fitnets_crisismmd_image_mm.py']
model = dict(
    members=dict(_delete_=True, text={{_base_.text_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, text={{_base_.text_teacher}}),
    connectors=dict(hint=dict(target='text:fc2')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='text:fc2'),
        loss_kd=dict(target='text:')))
