# CrisisMMD-V2 (MST-Distill release file): image features 2048-d + text
# features 768-d, 8 humanitarian classes; 16,058 posts split 60/20/20 by the
# permutation of the run seed (`tools/train.py --seed S` sets `seed` of all
# three datasets).
dataset_type = 'CrisisMMDDataset'
data_root = 'data/CMMD-V2'  # the folder holding CMMD_data.pth
# The release's split file; regenerated exactly (same numbers) when absent.
indices_file = 'data/metadata/CMMD-V2_indices.csv'
modalities = None  # None = all modalities of the dataset

# num_workers=0: the set (180 MB) is held in memory, so an item is a tensor
# index; worker processes would only add the cost of passing batches.
train_dataloader = dict(
    batch_size=512,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root, indices_file=indices_file,
        split='train', seed=0, modalities=modalities))
# val/test: the train loader with batches of 1024, unshuffled, on their split.
val_dataloader = dict(
    train_dataloader,
    batch_size=1024,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(train_dataloader['dataset'], split='val'))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = dict(type='ClsMetric')
test_evaluator = val_evaluator
