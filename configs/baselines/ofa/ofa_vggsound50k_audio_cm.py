# OFA on VGGSound-50k: audio student, cross-modal (CM) teacher: the visual
# member (the 3-D CNN + MLP, configs/members/vggsound50k_visual.py), trained
# first:
#   python tools/train.py configs/members/vggsound50k_visual.py \
#       --work-dir work_dirs/vggsound50k_visual
# Student branches as in ofa_vggsound50k_audio_mm.py.
_base_ = ['./ofa_vggsound50k_audio_mm.py']
model = dict(
    members=dict(_delete_=True, visual={{_base_.visual_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, visual={{_base_.visual_teacher}}),
    connectors=dict(proj1=dict(target='visual:'),
                    proj2=dict(target='visual:'),
                    proj3=dict(target='visual:')),
    loss_forward_mappings=dict(loss_ofa=dict(target='visual:'),
                               loss_ofa_logits=dict(target='visual:')))
