# OFA on AV-Digits: audio student, cross-modal (CM) teacher: the image
# member (configs/members/avdigits_image.py, trained first).
_base_ = ['./ofa_avdigits_audio_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    connectors=dict(proj1=dict(target='image:'), proj2=dict(target='image:'),
                    proj3=dict(target='image:')),
    loss_forward_mappings=dict(loss_ofa=dict(target='image:'),
                               loss_ofa_logits=dict(target='image:')))
