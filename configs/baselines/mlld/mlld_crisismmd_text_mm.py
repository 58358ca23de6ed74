# MLLD on CrisisMMD-V2: text student (the text MLP), multimodal (MM) teacher
# (see mlld_crisismmd_image_mm.py), trained first:
#   python tools/train.py configs/members/crisismmd_fusion.py \
#       --work-dir work_dirs/crisismmd_fusion
_base_ = ['./mlld_crisismmd_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 text={{_base_.text_member}}),
    target='text',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='text:'),
        loss_mlld=dict(pred='text:')))
