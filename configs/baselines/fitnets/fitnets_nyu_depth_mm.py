# FitNets (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015,
# Sec. 2.2-2.3) on NYU-Depth-V2 (paper Sec. 4.2, Table 2): depth student, the
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
#   python tools/train.py configs/baselines/fitnets/fitnets_nyu_depth_mm.py \
#       --seed 0
#   python tools/test.py configs/baselines/fitnets/fitnets_nyu_depth_mm.py \
#       work_dirs/fitnets_nyu_depth_mm/best_CE_epoch_*.pth --seed 0
# The release (KD_methods/FitNets.py) uses two hint/guided pairs per
# teacher (bottleneck and first decoder block) and its MSE counts void.
# (the config of fitnets_nyu_rgb_mm.py with these roles)
_base_ = ['./fitnets_nyu_rgb_mm.py']
model = dict(
    members=dict(_delete_=True, mm={{_base_.fusion_member}},
                 depth={{_base_.depth_member}}),
    target='depth',
    pretrained=dict(_delete_=True, mm={{_base_.mm_teacher}}),
    connectors=dict(hint=dict(source='depth:bottleneck',
                              target='mm:bottleneck')),
    loss_forward_mappings=dict(
        loss_hint=dict(target='mm:bottleneck'),
        loss_ce=dict(logits='depth:'),
        loss_kd=dict(pred='depth:', target='mm:')))
