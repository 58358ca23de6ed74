# KD on VGGSound-50k: audio student, cross-modal (CM) teacher: the visual
# member (the 3-D CNN + MLP, configs/members/vggsound50k_visual.py), trained
# first:
#   python tools/train.py configs/members/vggsound50k_visual.py \
#       --work-dir work_dirs/vggsound50k_visual
_base_ = ['./kd_vggsound50k_visual_mm.py']
model = dict(
    members=dict(_delete_=True, visual={{_base_.visual_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, visual={{_base_.visual_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_kd=dict(pred='audio:', target='visual:')))
