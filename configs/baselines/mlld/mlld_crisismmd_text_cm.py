# MLLD on CrisisMMD-V2: text student, cross-modal (CM) teacher: the image
# member (the image MLP, configs/members/crisismmd_image.py), trained first:
#   python tools/train.py configs/members/crisismmd_image.py \
#       --work-dir work_dirs/crisismmd_image
_base_ = ['./mlld_crisismmd_image_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 text={{_base_.text_member}}),
    target='text',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='text:'),
        loss_mlld=dict(pred='text:', target='image:')))
