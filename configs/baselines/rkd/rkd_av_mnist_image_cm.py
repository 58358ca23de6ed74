# RKD on AV-MNIST: image student, cross-modal (CM) teacher: the audio member
# (the 3-layer 2-D CNN, configs/members/av_mnist_audio.py), trained first:
#   python tools/train.py configs/members/av_mnist_audio.py \
#       --work-dir work_dirs/av_mnist_audio
# Its feature: fc@input (the flattened 128x14x14 map its head receives,
# 25,088-d). The paper's form on the raw features: the angle-wise potential
# of so wide a feature is computed from the batch's Gram matrix (RKDLoss
# angle_mode='auto', B^3 memory instead of the B x B x D differences, 26 GB
# at batch 512). The reference release first embeds both features by
# trainable Linear(., 128) + L2 heads (KD_methods/RKD.py; the connectors of
# rkd_avdigits_image_mm_release.py).
_base_ = ['./rkd_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    loss_forward_mappings=dict(
        loss_rkd=dict(target='audio:fc@input')))
