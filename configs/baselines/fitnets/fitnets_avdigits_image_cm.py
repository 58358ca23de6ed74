# FitNets on AV-Digits: image student, cross-modal (CM) teacher: the audio
# member (configs/members/avdigits_audio.py, trained first). The hint is the
# pooled feature the audio head receives (fc@input, 1024-d); the guided layer
# the student's fc1 (84-d) through a linear regressor.
_base_ = ['./fitnets_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    connectors=dict(hint=dict(target='audio:fc@input')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='audio:fc@input'),
        loss_kd=dict(target='audio:')))
