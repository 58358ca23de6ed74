# MLLD on AV-Digits: audio student, multimodal (MM) teacher.
_base_ = ['./mlld_avdigits_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_mlld=dict(pred='audio:')))
