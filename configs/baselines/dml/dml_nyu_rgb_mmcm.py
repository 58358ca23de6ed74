# DML (Zhang et al., "Deep Mutual Learning", CVPR 2018) on NYU-Depth-V2 (paper
# Sec. 4.2, Table 2) with the MM+CM teacher configuration: the RGB student, the
# FuseNet fusion net and the depth branch net are peers trained together from
# scratch, each with, per valid pixel (label != 255), the loss of
# _base_/methods/dml.py (K = 3). The RGB peer is the deployed student (model
# selection and tools/test.py). Adam 1e-4, 100 epochs. No teacher run is
# needed:
#   python tools/train.py configs/baselines/dml/dml_nyu_rgb_mmcm.py --seed 0
#   python tools/test.py configs/baselines/dml/dml_nyu_rgb_mmcm.py \
#       work_dirs/dml_nyu_rgb_mmcm/best_CE_epoch_*.pth --seed 0
_base_ = [
    '../../_base_/methods/dml.py',
    '../../_base_/models/fusenet.py',
    '../../_base_/datasets/nyu_depth_v2.py',
    '../../_base_/schedules/adam_1e-4.py',
    '../../_base_/seg_runtime.py'
]
model = dict(
    data_preprocessor={{_base_.data_preprocessor}},
    # label maps with void pixels (255): CE ignores them, every per-pixel
    # term (KL, MSE) averages over the valid pixels only
    task=dict(type='SegTask', ignore_index=255),
    members=dict(
        mm={{_base_.fusion_member}},
        rgb={{_base_.rgb_member}},
        depth={{_base_.depth_member}}),
    target='rgb',
    losses=dict(
        loss_ce_rgb=dict(type='CrossEntropyLoss'),
        loss_ce_mm=dict(type='CrossEntropyLoss'),
        loss_ce_depth=dict(type='CrossEntropyLoss'),
        loss_mutual=dict(type='MutualKLLoss', temperature=1.0, detach=True,
                         peer_mean=True)),
    loss_forward_mappings=dict(
        loss_ce_rgb=dict(logits='rgb:', labels='labels'),
        loss_ce_mm=dict(logits='mm:', labels='labels'),
        loss_ce_depth=dict(logits='depth:', labels='labels'),
        loss_mutual=dict(logits=['rgb:', 'mm:', 'depth:'])))
