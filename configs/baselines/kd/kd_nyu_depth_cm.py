# KD (Hinton et al., "Distilling the Knowledge in a Neural Network", 2015) on
# NYU-Depth-V2 (paper Sec. 4.2, Table 2): depth student, the cross-modal (CM)
# teacher: the RGB branch net, frozen. Per pixel, the loss of
# _base_/methods/kd.py (T = 4), each term averaged over the valid pixels
# (label != 255). Adam 1e-4, 100 epochs (the paper's single-stage budget, as
# the members' w/o-KD runs).
# Train the teacher first (same seed: the seed selects the split):
#   python tools/train.py configs/members/nyu_rgb.py --seed 0 \
#       --work-dir work_dirs/nyu_rgb
#   python tools/train.py configs/baselines/kd/kd_nyu_depth_cm.py --seed 0
#   python tools/test.py configs/baselines/kd/kd_nyu_depth_cm.py \
#       work_dirs/kd_nyu_depth_cm/best_CE_epoch_*.pth --seed 0
# The release (KD_methods/KD.py) divides the KL by every pixel, void
# included: --cfg-options model.losses.loss_kd.normalize=all
# (the config of kd_nyu_rgb_mm.py with these roles)
_base_ = ['./kd_nyu_rgb_mm.py']
model = dict(
    members=dict(_delete_=True, rgb={{_base_.rgb_member}},
                 depth={{_base_.depth_member}}),
    target='depth',
    pretrained=dict(_delete_=True, rgb={{_base_.rgb_teacher}}),
    loss_forward_mappings=dict(
        loss_ce=dict(logits='depth:'),
        loss_kd=dict(pred='depth:', target='rgb:')))
