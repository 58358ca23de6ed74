# MLLD on AV-Digits: image student, cross-modal (CM) teacher: the audio
# member (configs/members/avdigits_audio.py, trained first).
_base_ = ['./mlld_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    loss_forward_mappings=dict(loss_mlld=dict(target='audio:')))
