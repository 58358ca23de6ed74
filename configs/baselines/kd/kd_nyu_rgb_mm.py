# KD (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015) on
# NYU-Depth-V2 (paper Sec. 4.2, Table 2): RGB student, the multimodal (MM)
# teacher: the FuseNet fusion net, frozen. Per pixel, the loss of
# _base_/methods/kd.py (T = 4), each term averaged over the valid pixels
# (label != 255). Adam 1e-4, 100 epochs (the paper's single-stage budget, as
# the members' w/o-KD runs).
# Train the teacher first (same seed: the seed selects the split):
#   python tools/train.py configs/members/nyu_fusion.py --seed 0 \
#       --work-dir work_dirs/nyu_fusion
#   python tools/train.py configs/baselines/kd/kd_nyu_rgb_mm.py --seed 0
#   python tools/test.py configs/baselines/kd/kd_nyu_rgb_mm.py \
#       work_dirs/kd_nyu_rgb_mm/best_CE_epoch_*.pth --seed 0
# The release (KD_methods/KD.py) divides the KL by every pixel, void
# included: --cfg-options model.losses.loss_kd.normalize=all
_base_ = [
    '../../_base_/methods/kd.py',
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
    members=dict(mm={{_base_.fusion_member}}, rgb={{_base_.rgb_member}}),
    target='rgb',
    pretrained=dict(mm={{_base_.mm_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='rgb:', labels='labels'),
        # the teacher's logit maps; the KL detaches its target
        loss_kd=dict(pred='rgb:', target='mm:')))
