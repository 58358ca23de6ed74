# CRD on AV-Digits: image student, cross-modal (CM) teacher: the audio
# member (configs/members/avdigits_audio.py, trained first); its feature is
# the pooled map its head receives (fc@input).
_base_ = ['./crd_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    connectors=dict(embed_t=dict(source='audio:fc@input')))
