# VGGSound-50k (MST-Distill release files): visual features 512x10x7x7 +
# audio features 128x10, 141 classes; clips (metadata order) split 60/20/20
# by the permutation of the run seed (`tools/train.py --seed S` sets `seed`
# of all three datasets).
dataset_type = 'VGGSound50kDataset'
data_root = 'data/VGGS50K'  # VGGS50k_metadata.txt, VGGS50K_features_normed/
# The release's split file; regenerated exactly (same numbers) when absent.
indices_file = 'data/metadata/VGGSound-50k_indices.csv'
modalities = None  # None = all modalities of the dataset

# num_workers=2: every item loads two per-clip .npy files (1 MB of features),
# so two workers overlap the file reads with the model step. persistent
# workers off: restarting the (forked) workers each epoch costs little, and
# no worker outlives a stage of a multi-stage loop.
train_dataloader = dict(
    batch_size=512,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root, indices_file=indices_file,
        split='train', seed=0, modalities=modalities))
# val/test: the train loader unshuffled, on their split.
val_dataloader = dict(
    train_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(train_dataloader['dataset'], split='val'))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = dict(type='ClsMetric')
test_evaluator = val_evaluator
