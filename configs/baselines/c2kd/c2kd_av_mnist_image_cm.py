# C2KD (Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal Knowledge
# Distillation", CVPR 2024) on AV-MNIST: image student (LeNet5), cross-modal
# (CM) teacher: the audio member (configs/members/av_mnist_audio.py, trained
# first), which keeps training, on the fly, with the student: the loss of
# _base_/methods/c2kd.py, the members' schedule (baseline_av_mnist.py).
# Proxies on LeNet5 fc1 (84-d, its penultimate layer, as on AV-Digits and in
# the release) and on the audio CNN's conv3 map (128 channels, averaged by the
# proxy), the release's ProxyNet on conv3_maxpool: the CNN's penultimate
# feature (fc@input, 25,088-d) would give the proxy's Linear(C, C) 629 M
# weights.
# The teacher is trained first:
#   python tools/train.py configs/members/av_mnist_audio.py \
#       --work-dir work_dirs/av_mnist_audio
#   python tools/train.py configs/baselines/c2kd/c2kd_av_mnist_image_cm.py
_base_ = [
    '../../_base_/methods/c2kd.py',
    '../../_base_/models/av_mnist_members.py',
    '../../_base_/models/av_mnist_teachers.py',
    '../../_base_/datasets/av_mnist.py',
    '../../_base_/schedules/baseline_av_mnist.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    members=dict(audio={{_base_.audio_member}},
                 image={{_base_.image_member}}),
    target='image',
    pretrained=dict(audio={{_base_.audio_teacher}}),
    # out_channels (the classes) from the members' logits
    connectors=dict(
        proxy_s=dict(type='ProxyHead', source='image:fc1',
                     target='image:'),
        proxy_t=dict(type='ProxyHead', source='audio:conv3',
                     target='audio:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='image:', labels='labels'),
        loss_ce_t=dict(logits='audio:', labels='labels'),
        loss_bd_s=dict(logits=['proxy_s', 'image:']),
        loss_bd_t=dict(logits=['proxy_t', 'audio:']),
        loss_ofsd=dict(pred='proxy_s', target='proxy_t', labels='labels')),
    stages=dict(
        train=dict(trainable=['student', 'members.audio',
                              'connectors.proxy_s', 'connectors.proxy_t'])))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train={{_base_.train_cfg.max_epochs}}),
                 val_interval=1)
