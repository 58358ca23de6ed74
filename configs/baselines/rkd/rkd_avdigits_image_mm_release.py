# RKD on AV-Digits as the reference release runs it (main-RKD.py,
# KD_methods/RKD.py): both features embedded by a trainable
# Linear(., 128) + L2 normalisation (the teacher's head trains with the
# student), (1 - alpha) CE + alpha RKD with alpha = 0.5.
_base_ = ['./rkd_avdigits_image_mm.py']
model = dict(
    connectors=dict(
        embed_s=dict(type='LinearConnector', source='image:fc1',
                     out_channels=128, l2_normalize=True),
        embed_t=dict(type='LinearConnector', source='mm:fusion.fc1',
                     out_channels=128, l2_normalize=True)),
    losses=dict(loss_ce=dict(loss_weight=0.5),
                loss_rkd=dict(loss_weight=0.5)),
    loss_forward_mappings=dict(
        loss_rkd=dict(pred='embed_s', target='embed_t')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train=30), val_interval=1)
