# OFA on CrisisMMD-V2: text student (the text MLP), multimodal (MM) teacher
# (see ofa_crisismmd_image_mm.py), trained first:
#   python tools/train.py configs/members/crisismmd_fusion.py \
#       --work-dir work_dirs/crisismmd_fusion
# Student branches: fc1, fc2.
_base_ = ['./ofa_crisismmd_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 text={{_base_.text_member}}),
    target='text',
    connectors=dict(proj1=dict(source='text:fc1'),
                    proj2=dict(source='text:fc2')),
    loss_forward_mappings=dict(loss_ce=dict(logits='text:'),
                               loss_ofa_logits=dict(preds='text:')))
