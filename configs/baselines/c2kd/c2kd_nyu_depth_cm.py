# C2KD (Huo et al., "C2KD: Bridging the Modality Gap for Cross-Modal
# Knowledge Distillation", CVPR 2024) on NYU-Depth-V2 (paper Sec. 4.2,
# Table 2): depth student, the cross-modal (CM) teacher: the RGB branch net
# (configs/members/nyu_rgb.py, trained first), which keeps training,
# on the fly, with the student.
# Proxies (ProxyHead, dense: Linear-BN-LeakyReLU-Linear on every cell) on the
# student's and the teacher's encoder-decoder bottleneck (512 x H/32 x W/32),
# upsampled bilinearly to the logit maps. Per valid pixel (label != 255), the
# loss of _base_/methods/c2kd.py, OFSD on the pixels whose proxies' Kendall tau
# (over the 40 classes) > 0. Adam 1e-4, 100 epochs.
#   python tools/train.py configs/members/nyu_rgb.py --seed 0 \
#       --work-dir work_dirs/nyu_rgb
#   python tools/train.py configs/baselines/c2kd/c2kd_nyu_depth_cm.py --seed 0
#   python tools/test.py configs/baselines/c2kd/c2kd_nyu_depth_cm.py \
#       work_dirs/c2kd_nyu_depth_cm/best_CE_epoch_*.pth --seed 0
# The release selects whole images (mean tau over the image's pixels):
#   --cfg-options model.losses.loss_ofsd.dense_selection=image
# and puts the proxies on the decoder's 64-channel H/2 block (CBR2_*_DEC):
#   model.connectors.proxy_s.source=depth:decoder.block4
#   model.connectors.proxy_t.source=rgb:decoder.block4
# (the RGB student's config with the roles swapped)
_base_ = ['./c2kd_nyu_rgb_cm.py']
model = dict(
    members=dict(_delete_=True, rgb={{_base_.rgb_member}},
                 depth={{_base_.depth_member}}),
    target='depth',
    pretrained=dict(_delete_=True, rgb={{_base_.rgb_teacher}}),
    connectors=dict(
        proxy_s=dict(source='depth:bottleneck', target='depth:'),
        proxy_t=dict(source='rgb:bottleneck', target='rgb:')),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='depth:'),
        loss_ce_t=dict(logits='rgb:'),
        loss_bd_s=dict(logits=['proxy_s', 'depth:']),
        loss_bd_t=dict(logits=['proxy_t', 'rgb:'])),
    stages=dict(train=dict(trainable=['student', 'members.rgb',
                                      'connectors.proxy_s',
                                      'connectors.proxy_t'])))
