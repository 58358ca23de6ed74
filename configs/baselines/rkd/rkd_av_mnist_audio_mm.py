# RKD on AV-MNIST: audio student (the 3-layer 2-D CNN), multimodal (MM) teacher
# (see rkd_av_mnist_image_mm.py), trained first:
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
# The student's feature: fc@input (the flattened 128x14x14 map its head
# receives, 25,088-d), in the paper's form (raw features; the angles of so
# wide a feature come from the Gram matrix, see rkd_av_mnist_image_cm.py).
_base_ = ['./rkd_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_rkd=dict(pred='audio:fc@input')))
