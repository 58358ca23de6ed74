# MGDFR (Xue et al., "The Modality Focusing Hypothesis: Towards
# Understanding Crossmodal Knowledge Distillation", ICLR 2023, Algorithm 1)
# on NYU-Depth-V2 (paper Sec. 4.2, Table 2): depth student,
# the cross-modal (CM) teacher: the RGB branch net
# (configs/members/nyu_rgb.py, trained first). Two declared stages:
#   overlap: teacher + student trained jointly: CE(t) + CE(s) + MSE(z_t, z_s)
#            on the logit maps (the teacher starts from its member run);
#   kd:      at its start the teacher's bottleneck channels (512 x H/32 x
#            W/32) are ranked by permutation saliency (MSE of the permuted
#            teacher's logit maps to the student's, 10 permutations, the
#            whole training set), the top 25% kept as modality-general; the
#            student is re-initialised (its own init_weights: the start of
#            its w/o-KD run) and trained by CE + T^2 KL (T = 4) to the frozen
#            teacher whose other channels are set to their batch mean.
# Every per-pixel term (CE, MSE, saliency MSE, KL) averages over the valid
# pixels (label != 255). The permuted copies start from a repeated input
# batch (FuseNet's decoder unpools with the encoder's indices), 4 channels
# per forward at batch 6 (chunk_samples=24): the ranking costs 512 x 10
# teacher forwards per training batch (as the release); fewer with
#   --cfg-options model.max_saliency_batches=N model.num_permutations=R
# Budget: 100 + 100 epochs (MST-Distill's S1 / S3 on NYU; Adam 1e-4). The
# student is selected in the kd stage.
#   python tools/train.py configs/members/nyu_rgb.py --seed 0 \
#       --work-dir work_dirs/nyu_rgb
#   python tools/train.py configs/baselines/mgdfr/mgdfr_nyu_depth_cm.py \
#       --seed 0
#   python tools/test.py configs/baselines/mgdfr/mgdfr_nyu_depth_cm.py \
#       work_dirs/mgdfr_nyu_depth_cm/best_CE_epoch_*.pth --seed 0
# The release (KD_methods/MGDFR.py) ranks the branch net's last encoder
# block (CBR5_*_ENC, before the pool): --cfg-options
#   model.feature=rgb:encoder.block5
_base_ = [
    '../../_base_/models/fusenet.py',
    '../../_base_/models/nyu_teachers.py',
    '../../_base_/datasets/nyu_depth_v2.py',
    '../../_base_/seg_runtime.py'
]
model = dict(
    type='MGDFRDistiller',
    data_preprocessor={{_base_.data_preprocessor}},
    # label maps with void pixels (255): CE ignores them, every per-pixel
    # term (KL, MSE) averages over the valid pixels only
    task=dict(type='SegTask', ignore_index=255),
    members=dict(rgb={{_base_.rgb_member}},
                 depth={{_base_.depth_member}}),
    target='depth',
    pretrained=dict(rgb={{_base_.rgb_teacher}}),
    teacher='rgb',
    feature='rgb:bottleneck',
    # the bottleneck is an Identity layer: its width is the last stage's
    num_channels=512,
    keep_ratio=0.25,
    num_permutations=10,
    saliency_stage='kd',
    reinit_student='init_weights',
    expand_at='input',
    chunk_samples=24,
    losses=dict(
        loss_ce=dict(type='CrossEntropyLoss'),
        loss_ce_t=dict(type='CrossEntropyLoss'),
        loss_overlap=dict(type='MSELoss', detach_target=False),
        loss_kd=dict(type='KLDivergenceLoss', temperature=4.0)),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='depth:', labels='labels'),
        loss_ce_t=dict(logits='rgb:', labels='labels'),
        loss_overlap=dict(pred='depth:', target='rgb:'),
        loss_kd=dict(pred='depth:', target='general_logits')),
    stages=dict(
        overlap=dict(trainable=['student', 'members.rgb'],
                     losses=['loss_ce', 'loss_ce_t', 'loss_overlap'],
                     title='MGDFR teacher-student overlap training'),
        kd=dict(trainable=['student'], losses=['loss_ce', 'loss_kd'],
                title='MGDFR distillation on modality-general features')))
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
