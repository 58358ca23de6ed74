# The NYU-Depth-V2 members of MST-Distill (paper Table 5): FuseNet-SF5
# (Hazirbas et al., ACCV 2016) as the RGB-D teacher, and its RGB / depth
# branches (one VGG16-BN encoder + the unpooling decoder) as students.
# Every member reads the same (B, 4, H, W) RGB-D batch tensor (channels 0-2
# RGB, 3 depth) and picks its channels. Full width: FuseNet 44.2 M
# parameters, each branch 29.5 M.
#
# Layer paths for MaskNets (shapes at 480 x 640): fusion net 'bottleneck'
# (512x15x20), 'decoder.block1' (512x30x40); branch nets 'encoder.block5'
# (512x30x40), 'bottleneck' (512x15x20), 'decoder.block1' (512x30x40).
num_classes = 40
norm_cfg = dict(type='BN', requires_grad=True)

# Local torchvision VGG16-BN (or VGG16) state dict for the encoders, e.g.
# written once by
#   torch.save(torchvision.models.vgg16_bn(weights='IMAGENET1K_V1')
#              .state_dict(), 'checkpoints/vgg16_bn.pth')
# on a machine with internet. None: random (MSRA) initialisation, with a
# warning. Nothing is ever downloaded.
vgg16_checkpoint = None

# The members' own data preprocessor (used when a member is trained alone):
# no mean/std (the dataset normalises: RGB min-max per channel, depth per
# sample), no BGR swap; the 4-channel batch is padded to a multiple of 32
# (FuseNet pools 5 times), labels with the void value 255, at test time too.
# (Named so as not to clash with `data_preprocessor` of
# _base_/datasets/nyu_depth_v2.py, which is the same dict.)
fusenet_data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=None,
    std=None,
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))

loss_decode = dict(
    type='CrossEntropyLoss',  # mean over the non-void pixels
    use_sigmoid=False,
    loss_weight=1.0,
    avg_non_ignore=True)

# To set the checkpoint from a derived config, override the members (mmengine
# merges dicts), e.g. fusion_member = dict(pretrained='checkpoints/x.pth').
fusion_member = dict(
    type='FuseNet',
    fusion='sum',  # FuseNet's element-wise sum; 'mean' = the public release
    num_classes=num_classes,
    channels=(64, 128, 256, 512, 512),
    num_convs=(2, 2, 3, 3, 3),
    norm_cfg=norm_cfg,
    dropout_ratio=0.5,  # FuseNet; the public MST-Distill release uses 0.4
    loss_decode=loss_decode,
    ignore_index=255,
    pretrained=vgg16_checkpoint,
    data_preprocessor=fusenet_data_preprocessor)
rgb_member = dict(
    type='FuseNetBranch',
    modality='rgb',
    num_classes=num_classes,
    channels=(64, 128, 256, 512, 512),
    num_convs=(2, 2, 3, 3, 3),
    norm_cfg=norm_cfg,
    dropout_ratio=0.5,
    loss_decode=loss_decode,
    ignore_index=255,
    pretrained=vgg16_checkpoint,
    data_preprocessor=fusenet_data_preprocessor)
depth_member = dict(rgb_member, modality='depth')
