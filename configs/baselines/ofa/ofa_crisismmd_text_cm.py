# OFA on CrisisMMD-V2: text student, cross-modal (CM) teacher: the image member
# (the image MLP, configs/members/crisismmd_image.py), trained first:
#   python tools/train.py configs/members/crisismmd_image.py \
#       --work-dir work_dirs/crisismmd_image
# Student branches as in ofa_crisismmd_text_mm.py.
_base_ = ['./ofa_crisismmd_text_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 text={{_base_.text_member}}),
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(proj1=dict(target='image:'),
                    proj2=dict(target='image:')),
    loss_forward_mappings=dict(loss_ofa=dict(target='image:'),
                               loss_ofa_logits=dict(target='image:')))
