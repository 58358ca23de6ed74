# RKD on CrisisMMD-V2: text student (the text MLP), multimodal (MM) teacher
# (see rkd_crisismmd_image_mm.py), trained first:
#   python tools/train.py configs/members/crisismmd_fusion.py \
#       --work-dir work_dirs/crisismmd_fusion
# The student's feature: fc2 (512-d).
_base_ = ['./rkd_crisismmd_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 text={{_base_.text_member}}),
    target='text',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='text:'),
        loss_rkd=dict(pred='text:fc2')))
