# CRD on VGGSound-50k: audio student (the 1-D CNN + MLP), multimodal (MM)
# teacher (see crd_vggsound50k_visual_mm.py), trained first:
#   python tools/train.py configs/members/vggsound50k_fusion.py \
#       --work-dir work_dirs/vggsound50k_fusion
# The student's feature: fc2 (160-d).
_base_ = ['./crd_vggsound50k_visual_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(embed_s=dict(source='audio:fc2')),
    loss_forward_mappings=dict(loss_ce=dict(logits='audio:')))
