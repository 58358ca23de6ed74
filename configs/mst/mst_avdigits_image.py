# MST-Distill on AV-Digits, image student; teacher pool MM + CM with two
# MaskNet layers per teacher (N = 4), top-1 routing.
_base_ = [
    '../_base_/models/avdigits_members.py',
    '../_base_/models/mst_distill.py',
    '../_base_/datasets/avdigits.py',
    '../_base_/schedules/mst_3stage.py',
    '../_base_/default_runtime.py'
]
model = dict(
    members=dict(
        mm={{_base_.fusion_member}},
        image={{_base_.image_member}},
        audio={{_base_.audio_member}}),
    target='image',
    teachers=dict(
        # the fused (concatenated) feature and fc1 of the multimodal net
        mm=['fusion.concat', 'fusion.fc1'],
        # the cross-modal audio CNN's conv2 and conv3 feature maps (2-D)
        audio=['conv2', 'conv3']))

# The best student (by validation loss, the paper's selection, and by OA) is
# chosen in S3 only; per-epoch checkpoints for --resume are kept in every
# stage and each stage ends with {stage}_end.pth.
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('s3', )))
