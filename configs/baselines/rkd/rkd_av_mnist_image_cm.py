# RKD on AV-MNIST: image student, cross-modal (CM) teacher: the audio member
# (the 3-layer 2-D CNN, configs/members/av_mnist_audio.py), trained first:
#   python tools/train.py configs/members/av_mnist_audio.py \
#       --work-dir work_dirs/av_mnist_audio
# Its feature: fc@input (the flattened 128x14x14 map its head receives,
# 25,088-d).
# The audio CNN's feature is 25,088-d and the angle-wise potential builds a
# BxBxD tensor (512x512x25,088 floats = 26 GB at batch 512), so both features
# are first embedded by trainable Linear(., 128) + L2 heads, the reference
# release's RKD embedding (KD_methods/RKD.py, as
# rkd_avdigits_image_mm_release.py); the weights stay the paper's (CE + RKD).
_base_ = ['./rkd_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    connectors=dict(
        embed_s=dict(type='LinearConnector', source='image:fc1',
                     out_channels=128, l2_normalize=True),
        embed_t=dict(type='LinearConnector', source='audio:fc@input',
                     out_channels=128, l2_normalize=True)),
    loss_forward_mappings=dict(
        loss_rkd=dict(pred='embed_s', target='embed_t')))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
