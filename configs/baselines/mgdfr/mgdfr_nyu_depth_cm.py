# MGDFR (Xue et al., "The Modality Focusing Hypothesis: Towards Understanding
# Crossmodal Knowledge Distillation", ICLR 2023, Algorithm 1) on NYU-Depth-V2
# (paper Sec. 4.2, Table 2): depth student, the cross-modal (CM) teacher: the
# RGB branch net (configs/members/nyu_rgb.py, trained first). The two stages of
# _base_/methods/mgdfr.py (overlap, then kd) on the logit maps, the ranked
# feature the teacher's bottleneck (512 channels x H/32 x W/32), the student
# re-initialised by its own init_weights (the start of its w/o-KD run).
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
# (the RGB student's config with the roles swapped)
_base_ = ['./mgdfr_nyu_rgb_cm.py']
model = dict(
    members=dict(_delete_=True, rgb={{_base_.rgb_member}},
                 depth={{_base_.depth_member}}),
    target='depth',
    pretrained=dict(_delete_=True, rgb={{_base_.rgb_teacher}}),
    teacher='rgb',
    feature='rgb:bottleneck',
    loss_forward_mappings=dict(
        loss_ce=dict(logits='depth:'),
        loss_ce_t=dict(logits='rgb:'),
        loss_overlap=dict(pred='depth:', target='rgb:'),
        loss_kd=dict(pred='depth:')),
    stages=dict(overlap=dict(trainable=['student', 'members.rgb'])))
