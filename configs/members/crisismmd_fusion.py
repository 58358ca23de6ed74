# CrisisMMD-V2, multimodal member of the paper's Table 5, trained alone
# (100 epochs, best val loss): image MLP (+) text MLP -> 512 -> 256 -> 8.
_base_ = [
    '../_base_/models/crisismmd_members.py', '../_base_/datasets/crisismmd.py',
    '../_base_/schedules/adam_1e-4.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.fusion_member}})
# The reference protocol's learning rate on CrisisMMD-V2.
optim_wrapper = dict(optimizer=dict(lr=5e-3))
