# MST-Distill on NYU-Depth-V2, RGB student (paper Sec. 4.2, Table 2).
# Teachers: the FuseNet fusion net (multimodal) and the depth branch net
# (cross-modal); MaskNets at the encoder-decoder bottleneck (two layers per
# teacher, N = 4); per-image top-1 routing; per-pixel KD over valid pixels.
#   python tools/train.py configs/mst/mst_nyu_rgb.py
#   tools/dist_train.sh configs/mst/mst_nyu_rgb.py 4
#   python tools/test.py configs/mst/mst_nyu_rgb.py CKPT [--show-dir DIR]
_base_ = [
    '../_base_/models/fusenet.py',
    '../_base_/models/mst_distill.py',
    '../_base_/datasets/nyu_depth_v2.py',
    '../_base_/schedules/mst_benchmark.py',
    '../_base_/seg_runtime.py'
]
model = dict(
    data_preprocessor={{_base_.data_preprocessor}},
    # label maps with void pixels (255): CE ignores them, every KL term
    # averages over the valid pixels, predictions are SegDataSamples
    task=dict(type='SegTask', ignore_index=255),
    members=dict(
        mm={{_base_.fusion_member}},
        rgb={{_base_.rgb_member}},
        depth={{_base_.depth_member}}),
    target='rgb',
    teachers=dict(
        # fused bottleneck (512 x H/32 x W/32) and first decoder block
        # (512 x H/16 x W/16) of the fusion net
        mm=['bottleneck', 'decoder.block1'],
        # last encoder block and first decoder block of the depth net
        depth=['encoder.block5', 'decoder.block1']),
    # one routing decision per image, from the student's logit map
    gate=dict(type='DenseGateNet', act='relu'),
    # N logit maps per image do not fit in memory at 480 x 640
    cache_teacher_outputs=False,
    # nor the bottleneck and decoder maps (with FuseNet's unpooling
    # indices) of every training image: S2 recomputes the teachers
    s2_cache=False)

# The best student by validation loss (and mIoU) is chosen in S3 only.
default_hooks = dict(checkpoint=dict(type='StageCheckpointHook',
                                     best_stages=('s3', )))
