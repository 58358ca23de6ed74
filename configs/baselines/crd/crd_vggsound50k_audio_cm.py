# CRD on VGGSound-50k: audio student, cross-modal (CM) teacher: the visual
# member (the 3-D CNN + MLP, configs/members/vggsound50k_visual.py), trained
# first:
#   python tools/train.py configs/members/vggsound50k_visual.py \
#       --work-dir work_dirs/vggsound50k_visual
# Its feature: fc2 (160-d).
_base_ = ['./crd_vggsound50k_audio_mm.py']
model = dict(
    members=dict(_delete_=True, visual={{_base_.visual_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, visual={{_base_.visual_teacher}}),
    connectors=dict(embed_t=dict(source='visual:fc2')))
