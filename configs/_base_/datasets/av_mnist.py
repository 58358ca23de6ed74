# AV-MNIST (MultiBench release files): image 1x28x28 + audio 1x112x112,
# 10 classes; train + test files concatenated (70,000), split 60/20/20 by
# the permutation of the run seed (`tools/train.py --seed S` sets `seed` of
# all three datasets). Check a download with
# `python tools/dataset_converters/check_av_mnist.py data/avmnist`.
dataset_type = 'AVMNISTDataset'
data_root = 'data/avmnist'  # the `avmnist` folder (image/, audio/, *_labels)
# The release's split file; regenerated exactly (same numbers) when absent.
indices_file = 'data/metadata/AV-MNIST_indices.csv'
modalities = None  # None = all modalities of the dataset

# num_workers=0: the split is held in memory as float32 tensors (3.7 GB for
# the three splits), so an item is a tensor index; worker processes would
# only add the cost of passing every batch between processes.
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
