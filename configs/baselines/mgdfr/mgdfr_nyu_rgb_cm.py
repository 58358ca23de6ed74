# MGDFR (Xue et al., "The Modality Focusing Hypothesis: Towards Understanding
# Crossmodal Knowledge Distillation", ICLR 2023, Algorithm 1) on NYU-Depth-V2
# (paper Sec. 4.2, Table 2): RGB student, the cross-modal (CM) teacher: the
# depth branch net (configs/members/nyu_depth.py, trained first). The two
# stages of _base_/methods/mgdfr.py (overlap, then kd) on the logit maps, the
# ranked feature the teacher's bottleneck (512 channels x H/32 x W/32), the
# student re-initialised by its own init_weights (the start of its w/o-KD run).
# Every per-pixel term (CE, MSE, saliency MSE, KL) averages over the valid
# pixels (label != 255). The permuted copies start from a repeated input
# batch (FuseNet's decoder unpools with the encoder's indices), 4 channels
# per forward at batch 6 (chunk_samples=24): the ranking costs 512 x 10
# teacher forwards per training batch (as the release); fewer with
#   --cfg-options model.max_saliency_batches=N model.num_permutations=R
# Budget: 100 + 100 epochs (MST-Distill's S1 / S3 on NYU; Adam 1e-4). The
# student is selected in the kd stage.
#   python tools/train.py configs/members/nyu_depth.py --seed 0 \
#       --work-dir work_dirs/nyu_depth
#   python tools/train.py configs/baselines/mgdfr/mgdfr_nyu_rgb_cm.py --seed 0
#   python tools/test.py configs/baselines/mgdfr/mgdfr_nyu_rgb_cm.py \
#       work_dirs/mgdfr_nyu_rgb_cm/best_CE_epoch_*.pth --seed 0
# The release (KD_methods/MGDFR.py) ranks the branch net's last encoder
# block (CBR5_*_ENC, before the pool): --cfg-options
#   model.feature=depth:encoder.block5
_base_ = [
    '../../_base_/methods/mgdfr.py',
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
    members=dict(depth={{_base_.depth_member}},
                 rgb={{_base_.rgb_member}}),
    target='rgb',
    pretrained=dict(depth={{_base_.depth_teacher}}),
    teacher='depth',
    feature='depth:bottleneck',
    # the bottleneck is an Identity layer: its width is the last stage's
    num_channels=512,
    reinit_student='init_weights',
    expand_at='input',
    chunk_samples=24,
    loss_forward_mappings=dict(
        loss_ce=dict(logits='rgb:', labels='labels'),
        loss_ce_t=dict(logits='depth:', labels='labels'),
        loss_overlap=dict(pred='rgb:', target='depth:'),
        loss_kd=dict(pred='rgb:', target='general_logits')),
    stages=dict(overlap=dict(trainable=['student', 'members.depth'])))
train_cfg = dict(type='MultiStageTrainLoop', stages=dict(overlap=100, kd=100),
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    constructor='StageOptimWrapperConstructor',
    overlap=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
    kd=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)))
# the student is selected in the kd stage (it is re-initialised at its start)
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('kd', )))
