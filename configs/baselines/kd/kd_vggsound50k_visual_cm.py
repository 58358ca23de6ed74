# KD on VGGSound-50k: visual student, cross-modal (CM) teacher: the audio
# member (the 1-D CNN + MLP, configs/members/vggsound50k_audio.py), trained
# first:
#   python tools/train.py configs/members/vggsound50k_audio.py \
#       --work-dir work_dirs/vggsound50k_audio
_base_ = ['./kd_vggsound50k_visual_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 visual={{_base_.visual_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    loss_forward_mappings=dict(loss_kd=dict(target='audio:')))
