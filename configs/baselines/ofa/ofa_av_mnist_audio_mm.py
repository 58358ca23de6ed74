# OFA on AV-MNIST: audio student (the 3-layer 2-D CNN), multimodal (MM) teacher
# (see ofa_av_mnist_image_mm.py), trained first:
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
# Student branches: conv1, conv2, conv3.
_base_ = ['./ofa_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(proj1=dict(source='audio:conv1'),
                    proj2=dict(source='audio:conv2'),
                    proj3=dict(source='audio:conv3')),
    loss_forward_mappings=dict(loss_ce=dict(logits='audio:'),
                               loss_ofa_logits=dict(preds='audio:')))
