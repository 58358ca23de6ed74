# C2KD (Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal
# Knowledge Distillation", CVPR 2024) on NYU-Depth-V2 (paper Sec. 4.2,
# Table 2): RGB student, the cross-modal (CM) teacher: the depth branch net
# (configs/members/nyu_depth.py, trained first), which keeps training,
# on the fly, with the student.
# Proxies (ProxyHead, dense: Linear-BN-LeakyReLU-Linear on every cell) on the
# student's and the teacher's encoder-decoder bottleneck (512 x H/32 x W/32),
# upsampled bilinearly to the logit maps. Per valid pixel (label != 255), the
# loss of _base_/methods/c2kd.py, OFSD on the pixels whose proxies' Kendall tau
# (over the 40 classes) > 0. Adam 1e-4, 100 epochs.
#   python tools/train.py configs/members/nyu_depth.py --seed 0 \
#       --work-dir work_dirs/nyu_depth
#   python tools/train.py configs/baselines/c2kd/c2kd_nyu_rgb_cm.py --seed 0
#   python tools/test.py configs/baselines/c2kd/c2kd_nyu_rgb_cm.py \
#       work_dirs/c2kd_nyu_rgb_cm/best_CE_epoch_*.pth --seed 0
# The release selects whole images (mean tau over the image's pixels):
#   --cfg-options model.losses.loss_ofsd.dense_selection=image
# and puts the proxies on the decoder's 64-channel H/2 block (CBR2_*_DEC):
#   model.connectors.proxy_s.source=rgb:decoder.block4
#   model.connectors.proxy_t.source=depth:decoder.block4
_base_ = [
    '../../_base_/methods/c2kd.py',
    '../../_base_/models/fusenet.py',
    '../../_base_/models/nyu_teachers.py',
    '../../_base_/datasets/nyu_depth_v2.py',
    '../../_base_/schedules/adam_1e-4.py',
    '../../_base_/seg_runtime.py'
]
model = dict(
    data_preprocessor={{_base_.data_preprocessor}},
    # label maps with void pixels (255): CE ignores them, every per-pixel
    # term (KL, MSE) averages over the valid pixels only
    task=dict(type='SegTask', ignore_index=255),
    members=dict(depth={{_base_.depth_member}},
                 rgb={{_base_.rgb_member}}),
    target='rgb',
    pretrained=dict(depth={{_base_.depth_teacher}}),
    # in/out channels (the classes) and the output size (the logit maps')
    # from a dry forward
    connectors=dict(
        proxy_s=dict(type='ProxyHead', dense=True, source='rgb:bottleneck',
                     target='rgb:'),
        proxy_t=dict(type='ProxyHead', dense=True, source='depth:bottleneck',
                     target='depth:')),
    losses=dict(loss_ofsd=dict(dense_selection='pixel')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='rgb:', labels='labels'),
        loss_ce_t=dict(logits='depth:', labels='labels'),
        loss_bd_s=dict(logits=['proxy_s', 'rgb:']),
        loss_bd_t=dict(logits=['proxy_t', 'depth:']),
        loss_ofsd=dict(pred='proxy_s', target='proxy_t', labels='labels')),
    stages=dict(
        train=dict(trainable=['student', 'members.depth', 'connectors.proxy_s',
                              'connectors.proxy_t'])))
# connectors are built from a dry forward by the multi-stage loop
train_cfg = dict(_delete_=True, type='MultiStageTrainLoop',
                 stages=dict(train=100), val_interval=1)
