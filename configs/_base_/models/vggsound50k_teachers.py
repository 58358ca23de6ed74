# Frozen teachers of the VGGSound-50k baselines: the member runs of
# configs/members/vggsound50k_*.py (100 epochs, the w/o-KD protocol), loaded from
# their work dir's best checkpoint by validation loss (best_CE_epoch_*.pth,
# the paper's selection). Train each once per seed, e.g.
#   python tools/train.py configs/members/vggsound50k_fusion.py --seed 0 \
#       --work-dir work_dirs/vggsound50k_fusion
# and point a run at another seed's teacher with --cfg-options
#   model.pretrained.mm.checkpoint=work_dirs/vggsound50k_fusion_seed1
mm_teacher = dict(checkpoint='work_dirs/vggsound50k_fusion',
                  config='configs/members/vggsound50k_fusion.py')
visual_teacher = dict(checkpoint='work_dirs/vggsound50k_visual',
                      config='configs/members/vggsound50k_visual.py')
audio_teacher = dict(checkpoint='work_dirs/vggsound50k_audio',
                     config='configs/members/vggsound50k_audio.py')
