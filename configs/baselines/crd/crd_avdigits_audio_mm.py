# CRD on AV-Digits: audio student (its pooled feature, fc@input),
# multimodal (MM) teacher.
_base_ = ['./crd_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(embed_s=dict(source='audio:fc@input')),
    loss_forward_mappings=dict(loss_ce=dict(logits='audio:')))
