# FitNets on AV-MNIST: image student, cross-modal (CM) teacher: the audio
# member (the 3-layer 2-D CNN, configs/members/av_mnist_audio.py), trained
# first:
#   python tools/train.py configs/members/av_mnist_audio.py \
#       --work-dir work_dirs/av_mnist_audio
# Hint: its fc@input (the flattened 128x14x14 map its head receives, 25,088-d);
# guided layer: the student's fc1 (see fitnets_av_mnist_image_mm.py).
_base_ = ['./fitnets_av_mnist_image_mm.py']
model = dict(
    members=dict(_delete_=True, audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    pretrained=dict(_delete_=True, audio={{_base_.audio_teacher}}),
    connectors=dict(hint=dict(target='audio:fc@input')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='audio:fc@input'),
        loss_kd=dict(target='audio:')))
