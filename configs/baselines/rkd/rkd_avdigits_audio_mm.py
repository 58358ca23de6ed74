# RKD on AV-Digits: audio student (its pooled feature, fc@input), multimodal
# (MM) teacher (fusion.fc1).
_base_ = ['./rkd_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_rkd=dict(pred='audio:fc@input')))
