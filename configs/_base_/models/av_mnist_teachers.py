# Frozen teachers of the AV-MNIST baselines: the member runs of
# configs/members/av_mnist_*.py (100 epochs, the w/o-KD protocol), loaded from
# their work dir's best checkpoint by validation loss (best_CE_epoch_*.pth,
# the paper's selection). Train each once per seed, e.g.
#   python tools/train.py configs/members/av_mnist_fusion.py --seed 0 \
#       --work-dir work_dirs/av_mnist_fusion
# and point a run at another seed's teacher with --cfg-options
#   model.pretrained.mm.checkpoint=work_dirs/av_mnist_fusion_seed1
mm_teacher = dict(checkpoint='work_dirs/av_mnist_fusion',
                  config='configs/members/av_mnist_fusion.py')
image_teacher = dict(checkpoint='work_dirs/av_mnist_image',
                     config='configs/members/av_mnist_image.py')
audio_teacher = dict(checkpoint='work_dirs/av_mnist_audio',
                     config='configs/members/av_mnist_audio.py')
