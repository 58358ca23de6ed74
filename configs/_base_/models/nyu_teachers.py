# Frozen (or, for MGDFR and C2KD, further trained) teachers of the
# NYU-Depth-V2 baselines (paper Table 2): the member runs of configs/members/,
# loaded from their work dir's best checkpoint by validation loss
# (best_CE_epoch_*.pth, the paper's selection). The run seed selects the
# split group (docs/nyu_depth_v2.md), so train each teacher with the seed of
# the student that reads it, e.g.
#   python tools/train.py configs/members/nyu_fusion.py --seed 0 \
#       --work-dir work_dirs/nyu_fusion
# and point a run at another seed's teacher with --cfg-options
#   model.pretrained.mm.checkpoint=work_dirs/nyu_fusion_seed1
# (the member config must match the student run's member dicts, e.g. the
# same channels and VGG16 checkpoint).
mm_teacher = dict(checkpoint='work_dirs/nyu_fusion',
                  config='configs/members/nyu_fusion.py')
rgb_teacher = dict(checkpoint='work_dirs/nyu_rgb',
                   config='configs/members/nyu_rgb.py')
depth_teacher = dict(checkpoint='work_dirs/nyu_depth',
                     config='configs/members/nyu_depth.py')
