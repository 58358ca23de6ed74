# Frozen teachers of the RAVDESS baselines: the member runs of
# configs/members/ravdess_*.py (100 epochs, the w/o-KD protocol), loaded from
# their work dir's best checkpoint by validation loss (best_CE_epoch_*.pth,
# the paper's selection). Train each once per seed, e.g.
#   python tools/train.py configs/members/ravdess_fusion.py --seed 0 \
#       --work-dir work_dirs/ravdess_fusion
# and point a run at another seed's teacher with --cfg-options
#   model.pretrained.mm.checkpoint=work_dirs/ravdess_fusion_seed1
mm_teacher = dict(checkpoint='work_dirs/ravdess_fusion',
                  config='configs/members/ravdess_fusion.py')
video_teacher = dict(checkpoint='work_dirs/ravdess_video',
                     config='configs/members/ravdess_video.py')
audio_teacher = dict(checkpoint='work_dirs/ravdess_audio',
                     config='configs/members/ravdess_audio.py')
