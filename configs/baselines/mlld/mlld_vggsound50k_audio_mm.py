# MLLD on VGGSound-50k: audio student (the 1-D CNN + MLP), multimodal (MM)
# teacher (see mlld_vggsound50k_visual_mm.py), trained first:
#   python tools/train.py configs/members/vggsound50k_fusion.py \
#       --work-dir work_dirs/vggsound50k_fusion
_base_ = ['./mlld_vggsound50k_visual_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_mlld=dict(pred='audio:')))
