# AV-Digits, the embedded default data (image 1x28x28 + audio 1x112x112).
# The run seed selects the split group and the image-clip pairing; set it
# with `tools/train.py --seed S`, which sets `seed` of all three datasets.
dataset_type = 'AVDigitsDataset'
data_file = None  # None = the copy embedded in the package
modalities = None  # None = all modalities of the dataset

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_file=data_file, split='train', seed=0,
        modalities=modalities))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_file=data_file, split='val', seed=0,
        modalities=modalities))
test_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_file=data_file, split='test', seed=0,
        modalities=modalities))
val_evaluator = dict(type='ClsMetric')
test_evaluator = val_evaluator
