# RAVDESS, multimodal member of the paper's Table 5, trained alone
# (100 epochs, best val loss): 3-D CNN (+) 1-D CNN trunks -> 320 -> 160 -> 8.
_base_ = [
    '../_base_/models/ravdess_members.py', '../_base_/datasets/ravdess.py',
    '../_base_/schedules/adam_1e-4.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.fusion_member}})
