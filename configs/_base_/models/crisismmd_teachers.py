# Frozen teachers of the CrisisMMD-V2 baselines: the member runs of
# configs/members/crisismmd_*.py (100 epochs, the w/o-KD protocol), loaded from
# their work dir's best checkpoint by validation loss (best_CE_epoch_*.pth,
# the paper's selection). Train each once per seed, e.g.
#   python tools/train.py configs/members/crisismmd_fusion.py --seed 0 \
#       --work-dir work_dirs/crisismmd_fusion
# and point a run at another seed's teacher with --cfg-options
#   model.pretrained.mm.checkpoint=work_dirs/crisismmd_fusion_seed1
mm_teacher = dict(checkpoint='work_dirs/crisismmd_fusion',
                  config='configs/members/crisismmd_fusion.py')
image_teacher = dict(checkpoint='work_dirs/crisismmd_image',
                     config='configs/members/crisismmd_image.py')
text_teacher = dict(checkpoint='work_dirs/crisismmd_text',
                    config='configs/members/crisismmd_text.py')
