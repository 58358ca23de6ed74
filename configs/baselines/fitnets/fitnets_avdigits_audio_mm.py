# FitNets on AV-Digits: audio student (guided layer: the pooled feature its
# head receives, fc@input, 1024-d), multimodal (MM) teacher (hint: the fusion
# net's fc1, 170-d).
_base_ = ['./fitnets_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(hint=dict(source='audio:fc@input')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_kd=dict(pred='audio:')))
