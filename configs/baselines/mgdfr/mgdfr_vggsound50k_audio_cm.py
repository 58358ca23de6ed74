# MGDFR on VGGSound-50k: audio student, cross-modal (CM) teacher: the visual
# member (the 3-D CNN + MLP, configs/members/vggsound50k_visual.py), trained
# first:
#   python tools/train.py configs/members/vggsound50k_visual.py \
#       --work-dir work_dirs/vggsound50k_visual
# The teacher's ranked feature: fc2 (160) (see mgdfr_vggsound50k_visual_cm.py).
_base_ = ['./mgdfr_vggsound50k_visual_cm.py']
model = dict(
    members=dict(_delete_=True, visual={{_base_.visual_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, visual={{_base_.visual_teacher}}),
    teacher='visual',
    feature='visual:fc2',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_ce_t=dict(logits='visual:'),
        loss_overlap=dict(pred='audio:', target='visual:')),
    stages=dict(overlap=dict(trainable=['student', 'members.visual'])))
