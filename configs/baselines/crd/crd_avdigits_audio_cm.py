# CRD on AV-Digits: audio student, cross-modal (CM) teacher: the image
# member (configs/members/avdigits_image.py, trained first).
_base_ = ['./crd_avdigits_audio_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(embed_t=dict(source='image:fc1')))
