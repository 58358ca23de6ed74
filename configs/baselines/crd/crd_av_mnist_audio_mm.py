# CRD on AV-MNIST: audio student (the 3-layer 2-D CNN), multimodal (MM) teacher
# (see crd_av_mnist_image_mm.py), trained first:
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
# The student's feature: fc@input (the flattened 128x14x14 map its head
# receives, 25,088-d).
_base_ = ['./crd_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(embed_s=dict(source='audio:fc@input')),
    loss_forward_mappings=dict(loss_ce=dict(logits='audio:')))
