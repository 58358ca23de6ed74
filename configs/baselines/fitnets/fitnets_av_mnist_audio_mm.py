# FitNets on AV-MNIST: audio student (the 3-layer 2-D CNN), multimodal (MM)
# teacher (see fitnets_av_mnist_image_mm.py), trained first:
#   python tools/train.py configs/members/av_mnist_fusion.py \
#       --work-dir work_dirs/av_mnist_fusion
# Guided layer: the student's fc@input (the flattened 128x14x14 map its head
# receives, 25,088-d); hint: the teacher's fusion.fc1 (298-d).
_base_ = ['./fitnets_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 audio={{_base_.audio_member}}),
    target='audio',
    connectors=dict(hint=dict(source='audio:fc@input')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='audio:'),
        loss_kd=dict(pred='audio:')))
