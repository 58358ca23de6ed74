# Plain supervised image-only model on AV-Digits (the "w/o KD" baseline).
_base_ = [
    '../_base_/models/avdigits_members.py', '../_base_/datasets/avdigits.py',
    '../_base_/schedules/adam_avdigits.py', '../_base_/default_runtime.py'
]
model = dict(type='MemberClassifier', member={{_base_.image_member}})
train_dataloader = dict(dataset=dict(modalities=('image', )))
val_dataloader = dict(dataset=dict(modalities=('image', )))
test_dataloader = dict(dataset=dict(modalities=('image', )))
