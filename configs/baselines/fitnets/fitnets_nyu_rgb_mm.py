# FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015,
# Sec. 2.2-2.3) on NYU-Depth-V2 (paper Sec. 4.2, Table 2): RGB student, the
# multimodal (MM) teacher: the FuseNet fusion net, frozen. The hint sits at the
# encoder-decoder bottleneck (paper Sec. 4.2; 512 x H/32 x W/32). The two
# stages of _base_/methods/fitnets.py (hint, then kd), the regressor a 3x3
# convolution from the student's bottleneck to the teacher's, each bottleneck
# cell of the MSE weighted by the fraction of valid (non-void) label pixels it
# covers (void pixels excluded), the KL per valid pixel.
# Budget: 100 + 100 epochs (the sub-stages as long as MST-Distill's S1 / S3
# on NYU, Adam 1e-4). Train the teacher first (same seed):
#   python tools/train.py configs/members/nyu_fusion.py --seed 0 \
#       --work-dir work_dirs/nyu_fusion
#   python tools/train.py configs/baselines/fitnets/fitnets_nyu_rgb_mm.py \
#       --seed 0
#   python tools/test.py configs/baselines/fitnets/fitnets_nyu_rgb_mm.py \
#       work_dirs/fitnets_nyu_rgb_mm/best_CE_epoch_*.pth --seed 0
# The release (KD_methods/FitNets.py) uses two hint/guided pairs per
# teacher (bottleneck and first decoder block) and its MSE counts void.
_base_ = [
    '../../_base_/methods/fitnets.py',
    '../../_base_/models/fusenet.py',
    '../../_base_/models/nyu_teachers.py',
    '../../_base_/datasets/nyu_depth_v2.py',
    '../../_base_/seg_runtime.py'
]
model = dict(
    data_preprocessor={{_base_.data_preprocessor}},
    # label maps with void pixels (255): CE ignores them, every per-pixel
    # term (KL, MSE) averages over the valid pixels only
    task=dict(type='SegTask', ignore_index=255),
    members=dict(mm={{_base_.fusion_member}}, rgb={{_base_.rgb_member}}),
    target='rgb',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    # widths and the output size come from a dry forward
    connectors=dict(
        hint=dict(type='ConvConnector', kernel_size=3,
                  source='rgb:bottleneck', target='mm:bottleneck')),
    loss_forward_mappings=dict(
        loss_hint=dict(pred='hint', target='mm:bottleneck'),
        loss_ce=dict(logits='rgb:', labels='labels'),
        loss_kd=dict(pred='rgb:', target='mm:')))
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
