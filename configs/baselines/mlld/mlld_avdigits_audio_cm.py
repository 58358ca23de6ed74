# MLLD on AV-Digits: audio student, cross-modal (CM) teacher: the image
# member (configs/members/avdigits_image.py, trained first).
_base_ = ['./mlld_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, image={{_base_.image_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    pretrained=dict(_delete_=True, image={{_base_.image_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_mlld=dict(pred='audio:', target='image:')))
