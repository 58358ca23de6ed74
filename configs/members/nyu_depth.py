# FuseNet depth branch net (encoder + decoder) on NYU-Depth-V2 without KD
# (the "w/o KD" row of the paper's Table 2).
_base_ = [
    '../_base_/models/fusenet.py', '../_base_/datasets/nyu_depth_v2.py',
    '../_base_/schedules/adam_1e-4.py', '../_base_/seg_runtime.py'
]
# The member dicts of _base_/models/fusenet.py carry the data preprocessor.
model = {{_base_.depth_member}}
