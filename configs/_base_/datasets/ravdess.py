# RAVDESS (MST-Distill release files): video 3x15x224x224 (15 face-crop
# frames) + audio 15x156 (MFCC), 8 emotions; 1,440 clips split 60/20/20 by
# the permutation of the run seed (`tools/train.py --seed S` sets `seed` of
# all three datasets).
dataset_type = 'RAVDESSDataset'
data_root = 'data/RAVDESS_preprocessed_npy'  # video_data.npy, audio_data.npy
# The release's split file; regenerated exactly (same numbers) when absent.
indices_file = 'data/metadata/RAVDESS_indices.csv'
modalities = None  # None = all modalities of the dataset

# num_workers=2: every clip (2.3 MB uint8) is read from a memory map and
# normalised when served, so two workers overlap that with the model step.
# persistent_workers off: restarting the (forked) workers each epoch costs
# little, and no worker outlives a stage of a multi-stage loop.
train_dataloader = dict(
    batch_size=32,
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
