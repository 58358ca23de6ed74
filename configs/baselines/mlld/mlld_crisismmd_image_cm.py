# MLLD on CrisisMMD-V2: image student, cross-modal (CM) teacher: the text
# member (the text MLP, configs/members/crisismmd_text.py), trained first:
#   python tools/train.py configs/members/crisismmd_text.py \
#       --work-dir work_dirs/crisismmd_text
_base_ = ['./mlld_crisismmd_image_mm.py']
model = dict(
    members=dict(_delete_=True, text={{_base_.text_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, text={{_base_.text_teacher}}),
    loss_forward_mappings=dict(loss_mlld=dict(target='text:')))
