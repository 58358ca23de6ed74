# Frozen teachers of the AV-Digits baselines: the member runs of
# configs/members/, loaded from their work dir's best checkpoint by
# validation loss (best_CE_epoch_*.pth, the paper's selection). Train each
# once per seed, e.g.
#   python tools/train.py configs/members/avdigits_fusion.py --seed 0 \
#       --work-dir work_dirs/avdigits_fusion
# and point a run at another seed's teacher with --cfg-options
#   model.pretrained.mm.checkpoint=work_dirs/avdigits_fusion_seed1
mm_teacher = dict(checkpoint='work_dirs/avdigits_fusion',
                  config='configs/members/avdigits_fusion.py')
image_teacher = dict(checkpoint='work_dirs/avdigits_image',
                     config='configs/members/avdigits_image.py')
audio_teacher = dict(checkpoint='work_dirs/avdigits_audio',
                     config='configs/members/avdigits_audio.py')
