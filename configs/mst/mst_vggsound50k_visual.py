# MST-Distill on VGGSound-50k, visual student: the paper's Table 1 (MST-Distill
# row, VGGSound-50k visual) with the members of Table 5. Teacher pool MM + CM,
# MaskNets at two layers per teacher (N = 4), top-1 routing, T = 4, the
# other paper settings of ../_base_/models/mst_distill.py. S1, S2 and S3
# run 100 epochs each with Adam (../_base_/schedules/mst_benchmark.py).
_base_ = [
    '../_base_/models/vggsound50k_members.py',
    '../_base_/models/mst_distill.py',
    '../_base_/datasets/vggsound50k.py',
    '../_base_/schedules/mst_benchmark.py',
    '../_base_/default_runtime.py'
]
# DATA_FORMATS names the multimodal layers fc1/fc2; in LateFusionNet they
# are fusion.fc1/fusion.fc2 (concat -> fc1 -> fc2 -> fc3 = classes).
model = dict(
    members=dict(
        mm={{_base_.fusion_member}},
        visual={{_base_.visual_member}},
        audio={{_base_.audio_member}}),
    target='visual',
    teachers=dict(
        # multimodal teacher: fc1 (320) and fc2 (160) after fusion
        mm=['fusion.fc1', 'fusion.fc2'],
        # cross-modal teacher: fc1 (320) and fc2 (160)
        audio=['fc1', 'fc2']))

# The best student (by validation loss, the paper's selection, and by OA) is
# chosen in S3 only; each stage ends with {stage}_end.pth.
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('s3', )))
