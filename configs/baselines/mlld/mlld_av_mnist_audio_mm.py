# MLLD on AV-MNIST: audio student (the 3-layer 2-D CNN), multimodal (MM)
# teacher (see mlld_av_mnist_image_mm.py), trained first:
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
_base_ = ['./mlld_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_mlld=dict(pred='audio:')))
