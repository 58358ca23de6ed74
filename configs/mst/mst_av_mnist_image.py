# MST-Distill on AV-MNIST, image student: the paper's Table 1 (MST-Distill
# row, AV-MNIST image) with the members of Table 5. Teacher pool MM + CM,
# MaskNets at two layers per teacher (N = 4), top-1 routing, T = 4, the
# other paper settings of ../_base_/models/mst_distill.py. S1, S2 and S3
# run 100 epochs each with Adam (../_base_/schedules/mst_benchmark.py).
_base_ = [
    '../_base_/models/av_mnist_members.py',
    '../_base_/models/mst_distill.py',
    '../_base_/datasets/av_mnist.py',
    '../_base_/schedules/mst_benchmark.py',
    '../_base_/default_runtime.py'
]
model = dict(
    members=dict(
        mm={{_base_.fusion_member}},
        image={{_base_.image_member}},
        audio={{_base_.audio_member}}),
    target='image',
    teachers=dict(
        # multimodal teacher: the fused 596-d feature and fc1 (298)
        mm=['fusion.concat', 'fusion.fc1'],
        # cross-modal teacher: the audio CNN's conv2 (64x56x56) and conv3
        # (128x28x28) maps (2-D MaskNets over their channels)
        audio=['conv2', 'conv3']))

# The best student (by validation loss, the paper's selection, and by OA) is
# chosen in S3 only; each stage ends with {stage}_end.pth.
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('s3', )))
