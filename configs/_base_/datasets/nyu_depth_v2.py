# NYU-Depth-V2, 40-class RGB-D semantic segmentation (480x640, 1,449 frames).
# Convert the data first (docs/nyu_depth_v2.md):
#   python tools/dataset_converters/nyu_depth_v2.py NYU-Depth-V2_data.mat \
#       -o data/NYU-Depth-V2
# The model input is a float32 [4, H, W] tensor, channels R, G, B, D: RGB
# min-max normalised per channel over the set, depth per sample (the
# MST-Distill release). Labels: 0 (void) -> 255 (ignored), 1..40 -> 0..39.
# The run seed selects the split group (release protocol, 60/20/20 =
# 869/290/290); `tools/train.py --seed S` sets `seed` of all three datasets.
dataset_type = 'NYUDepthV2SegDataset'
data_root = 'data/NYU-Depth-V2'
split_mode = 'release'  # or 'standard' (795/654, needs --splits-mat)
img_scale = (480, 640)  # (H, W) of every NYU-Depth-V2 frame

# The reference protocol has no augmentation: load, normalise, concatenate.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='ConcatRGBD'),
    dict(type='NormalizeRGBD'),
    dict(type='mmseg.PackSegInputs'),
]
test_pipeline = train_pipeline

# Optional augmentation (not the paper's protocol): photometric changes on
# the uint8 colour only, then geometric changes on the 4-channel RGB-D image
# (RGB and depth interpolated bilinearly, labels by nearest neighbour).
# Use it in a derived config:
#   train_dataloader = dict(
#       dataset=dict(pipeline={{_base_.train_pipeline_aug}}))
train_pipeline_aug = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='RGBOnlyPhotoMetricDistortion'),
    dict(type='ConcatRGBD'),
    dict(type='NormalizeRGBD'),
    dict(
        type='mmseg.RandomResize',
        scale=(640, 480),  # (W, H) as mmcv expects
        ratio_range=(0.75, 1.5),
        keep_ratio=True,
        resize_type='mmseg.Resize'),
    dict(type='mmseg.RandomCrop', crop_size=img_scale, cat_max_ratio=0.75),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PackSegInputs'),
]

# Loading a 480x640 sample costs ~24 ms on one CPU core (PNG decoding is
# most of it), so 4 workers per GPU supply ~160 samples/s; raise it if the
# log's data_time is a large part of time, use 0 to debug in one process.
num_workers = 4
train_dataloader = dict(
    batch_size=6,  # the release
    num_workers=num_workers,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        seed=0,
        split_mode=split_mode,
        pipeline=train_pipeline))
# val/test: the train loader unshuffled, on their split, with test_pipeline.
val_dataloader = dict(
    train_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'], split='val', pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))

# mmseg's IoUMetric (aAcc = OA, mAcc = AA: mean per-class recall, mIoU, in
# percent; per-class IoU/Acc printed as a table) extended by SegMetric with
# OA/AA/mIoU_frac as unrounded fractions and CE, the validation loss over
# non-void pixels (the paper's model selection). Void (255) is excluded.
val_evaluator = dict(type='SegMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# For the segmentor's `data_preprocessor`: inputs are already normalised RGB-D
# (no mean/std, no BGR swap: mmseg swaps only 3-channel inputs); pad to a
# multiple of 32 since FuseNet pools 5 times (480x640 needs no padding).
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=None,
    std=None,
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))
