# OFA on AV-Digits as the reference release runs it (main-OFA.py,
# KD_methods/OFA.py): the OFA loss averaged over the three projected
# branches, no term on the student's own logits, eps = 1.1, T = 1,
# (1 - alpha) CE + alpha OFA with alpha = 0.5.
_base_ = ['./ofa_avdigits_image_mm.py']
model = dict(
    losses=dict(
        _delete_=True,
        loss_ce=dict(type='CrossEntropyLoss', loss_weight=0.5),
        loss_ofa=dict(type='OFALoss', eps=1.1, temperature=1.0,
                      reduction='mean', loss_weight=0.5)),
    loss_forward_mappings=dict(_delete_=True,
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ofa=dict(preds=['proj1', 'proj2', 'proj3'], target='mm:',
                      labels='labels')))
