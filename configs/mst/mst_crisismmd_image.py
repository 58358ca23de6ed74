# MST-Distill on CrisisMMD-V2, image student: the paper's Table 1 (MST-Distill
# row, CrisisMMD-V2 image) with the members of Table 5. Teacher pool MM + CM,
# MaskNets at two layers per teacher (N = 4), top-1 routing, T = 4, the
# other paper settings of ../_base_/models/mst_distill.py. S1, S2 and S3
# run 100 epochs each with Adam (../_base_/schedules/mst_benchmark.py).
_base_ = [
    '../_base_/models/crisismmd_members.py',
    '../_base_/models/mst_distill.py',
    '../_base_/datasets/crisismmd.py',
    '../_base_/schedules/mst_benchmark.py',
    '../_base_/default_runtime.py'
]
# DATA_FORMATS names the multimodal layers fc1/fc2; in LateFusionNet they
# are fusion.fc1/fusion.fc2 (concat -> fc1 -> fc2 -> fc3 = classes).
model = dict(
    members=dict(
        mm={{_base_.fusion_member}},
        image={{_base_.image_member}},
        text={{_base_.text_member}}),
    target='image',
    teachers=dict(
        # multimodal teacher: fc1 (512) and fc2 (256) after fusion
        mm=['fusion.fc1', 'fusion.fc2'],
        # cross-modal teacher: fc1 (1024) and fc2 (512)
        text=['fc1', 'fc2']))

# The reference protocol's learning rate on CrisisMMD-V2, in every stage.
optim_wrapper = dict(
    s1=dict(optimizer=dict(lr=5e-3)),
    s2=dict(optimizer=dict(lr=5e-3)),
    s3=dict(optimizer=dict(lr=5e-3)))

# The best student (by validation loss, the paper's selection, and by OA) is
# chosen in S3 only; each stage ends with {stage}_end.pth.
default_hooks = dict(
    checkpoint=dict(type='StageCheckpointHook', best_stages=('s3', )))
