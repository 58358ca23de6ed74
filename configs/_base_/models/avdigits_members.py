# The AV-MNIST members of the paper's Table 5, scaled for AV-Digits on a CPU:
# same layer structure (LeNet5; 3-layer 2-D CNN; LeNet5 trunk (+) 5-layer 2-D
# CNN trunk -> fc1 -> fc2) with half the audio channels and a stride-2 audio
# stem. The paper's full-size AV-MNIST members are CNN2d(channels=(32, 64,
# 128)) and the five-layer trunk (32, 64, 128, 256, 512) with fc1 = 298.
num_classes = 10
image_member = dict(type='LeNet5', modality='image', num_classes=num_classes)
audio_member = dict(
    type='CNN2d', modality='audio', channels=(16, 32, 64), stem_stride=2,
    num_classes=num_classes)
fusion_member = dict(
    type='LateFusionNet',
    encoders=dict(
        image=dict(type='LeNet5'),
        audio=dict(
            type='CNN2d', channels=(16, 32, 64, 128, 256), stem_stride=2,
            pool_last=True)),
    hidden_channels=(170, ),  # half the fused width (84 + 256), as 596 -> 298
    num_classes=num_classes)
