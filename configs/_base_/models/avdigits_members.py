# The AV-MNIST members of the paper's Table 5, scaled for AV-Digits on a CPU:
# the same structure (LeNet5; 3-layer 2-D CNN; LeNet5 trunk (+) 5-layer 2-D
# CNN trunk -> fc1 -> fc2) with fewer audio channels, a stride-2 audio stem
# and grid-pooled audio heads. Measured on AV-Digits (see the data README):
# with global average pooling the audio CNN stayed under 30% test OA on
# unseen voices and the fusion net fell below the audio-only net; pooling to
# a small grid (keeping where in time/frequency a pattern occurs) fixed both.
# The paper's full-size AV-MNIST members: CNN2d(channels=(32, 64, 128)) and
# the trunk (32, 64, 128, 256, 512) with fc1 = 298.
num_classes = 10
image_member = dict(type='LeNet5', modality='image', num_classes=num_classes)
audio_member = dict(
    type='CNN2d', modality='audio', channels=(16, 32, 64), stem_stride=2,
    pool_size=4, num_classes=num_classes)
fusion_member = dict(
    type='LateFusionNet',
    encoders=dict(
        image=dict(type='LeNet5'),
        # 112 -> 56 (stem) -> 28 -> 14 -> 7 -> 3 -> 2x2 grid: 256-d
        audio=dict(
            type='CNN2d', channels=(16, 32, 64, 64, 64), stem_stride=2,
            pool_size=2)),
    hidden_channels=(170, ),  # half the fused width (84 + 256), as 596 -> 298
    num_classes=num_classes)
