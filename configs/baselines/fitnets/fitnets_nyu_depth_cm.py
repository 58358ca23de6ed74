# FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015,
# Sec. 2.2-2.3) on NYU-Depth-V2 (paper Sec. 4.2, Table 2): depth student,
# the cross-modal (CM) teacher: the RGB branch net, frozen. The hint sits at
# the encoder-decoder bottleneck (paper Sec. 4.2; 512 x H/32 x W/32). Two
# declared stages:
#   hint: a 3x3 convolutional regressor r on the student's bottleneck is
#         trained with the student's encoder by the mean squared error
#         (Eq. 3 without its 1/2 and sum) to the teacher's bottleneck, each
#         bottleneck cell weighted by the fraction of valid (non-void) label
#         pixels it covers (void pixels excluded);
#   kd:   the whole student by CE + T^2 KL (KD, T = 4), per valid pixel.
# Budget: 100 + 100 epochs (the sub-stages as long as MST-Distill's S1 / S3
# on NYU, Adam 1e-4). Train the teacher first (same seed):
#   python tools/train.py configs/members/nyu_rgb.py --seed 0 \
#       --work-dir work_dirs/nyu_rgb
#   python tools/train.py configs/baselines/fitnets/fitnets_nyu_depth_cm.py \
#       --seed 0
#   python tools/test.py configs/baselines/fitnets/fitnets_nyu_depth_cm.py \
#       work_dirs/fitnets_nyu_depth_cm/best_CE_epoch_*.pth --seed 0
# The release (KD_methods/FitNets.py) uses two hint/guided pairs per
# teacher (bottleneck and first decoder block) and its MSE counts void.
_base_ = [
    '../../_base_/models/fusenet.py',
    '../../_base_/models/nyu_teachers.py',
    '../../_base_/datasets/nyu_depth_v2.py',
    '../../_base_/seg_runtime.py'
]
model = dict(
    type='ConfigurableDistiller',
    data_preprocessor={{_base_.data_preprocessor}},
    # label maps with void pixels (255): CE ignores them, every per-pixel
    # term (KL, MSE) averages over the valid pixels only
    task=dict(type='SegTask', ignore_index=255),
    members=dict(rgb={{_base_.rgb_member}}, depth={{_base_.depth_member}}),
    target='depth',
    pretrained=dict(rgb={{_base_.rgb_teacher}}),
    # widths and the output size come from a dry forward
    connectors=dict(
        hint=dict(type='ConvConnector', kernel_size=3,
                  source='depth:bottleneck', target='rgb:bottleneck')),
    losses=dict(
        loss_hint=dict(type='MSELoss'),
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
    loss_forward_mappings=dict(
        loss_hint=dict(pred='hint', target='rgb:bottleneck'),
        loss_ce=dict(logits='depth:', labels='labels'),
        loss_kd=dict(pred='depth:', target='rgb:')),
    stages=dict(
        hint=dict(trainable=['student', 'connectors.hint'],
                  losses=['loss_hint'], title='FitNets hint training'),
        kd=dict(trainable=['student'], losses=['loss_ce', 'loss_kd'],
                title='FitNets knowledge distillation')))
train_cfg = dict(type='MultiStageTrainLoop', stages=dict(hint=100, kd=100),
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    constructor='StageOptimWrapperConstructor',
    hint=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
    kd=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)))
# the student is selected in the KD stage (its decoder is untrained before)
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('kd', )))
