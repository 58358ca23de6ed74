# RAVDESS, audio member of the paper's Table 5 (1-D CNN + MLP, MFCCs),
# trained alone: the "w/o KD" baseline of Table 1 (100 epochs, best val loss).
_base_ = [
    '../_base_/models/ravdess_members.py', '../_base_/datasets/ravdess.py',
    '../_base_/schedules/adam_1e-4.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.audio_member}})
train_dataloader = dict(dataset=dict(modalities=('audio', )))
val_dataloader = dict(dataset=dict(modalities=('audio', )))
test_dataloader = dict(dataset=dict(modalities=('audio', )))
