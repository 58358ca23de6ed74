# FitNets on AV-Digits: audio student (fc@input), cross-modal (CM) teacher:
# the image member (configs/members/avdigits_image.py; hint: its fc1).
_base_ = ['./fitnets_avdigits_audio_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(hint=dict(target='image:fc1')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='image:fc1'),
        loss_kd=dict(target='image:')))
