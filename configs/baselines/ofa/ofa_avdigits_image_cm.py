# OFA on AV-Digits: image student, cross-modal (CM) teacher: the audio
# member (configs/members/avdigits_audio.py, trained first).
_base_ = ['./ofa_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    connectors=dict(proj1=dict(target='audio:'), proj2=dict(target='audio:'),
                    proj3=dict(target='audio:')),
    loss_forward_mappings=dict(loss_ofa=dict(target='audio:'),
                               loss_ofa_logits=dict(target='audio:')))
