# OFA on VGGSound-50k: audio student (the 1-D CNN + MLP), multimodal (MM)
# teacher (see ofa_vggsound50k_visual_mm.py), trained first:
#   python tools/train.py configs/members/vggsound50k_fusion.py \
#       --work-dir work_dirs/vggsound50k_fusion
# Student branches: fc1@input, fc1, fc2.
_base_ = ['./ofa_vggsound50k_visual_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(proj1=dict(source='audio:fc1@input'),
                    proj2=dict(source='audio:fc1'),
                    proj3=dict(source='audio:fc2')),
    loss_forward_mappings=dict(loss_ce=dict(logits='audio:'),
                               loss_ofa_logits=dict(preds='audio:')))
