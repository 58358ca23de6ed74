# The VGGSound-50k members of the paper's Table 5 (widths from the reference
# release, models/CPSP.py; the paper gives none):
# - visual [512, 10, 7, 7] VGG19 maps (channels x seconds x 7 x 7):
#   ThreeLayerCNN-3D (256/128/64, BN, max-pools after conv1 and conv2 only;
#   last map 64x2x1x1 = 128) + MLP fc1 320 -> fc2 160 -> fc3 141;
# - audio [128, 10] VGGish features (dims x seconds): ThreeLayerCNN-1D
#   (16/32/64, BN, max-pools of 3) convolving along the 128 dims with the
#   10 seconds as channels, as the release does (transpose_input; last map
#   64x4 = 256) + MLP fc1 320 -> fc2 160 -> fc3 141;
# - multimodal: the conv trunks (128 + 256) concatenated -> fusion.fc1 (320)
#   -> fusion.fc2 (160) -> fusion.fc3 (141).
num_classes = 141
visual_trunk = dict(
    type='CNN3d', in_channels=512, channels=(256, 128, 64), pool_last=False,
    pool_size=(2, 1, 1))
audio_trunk = dict(
    type='CNN1d', in_channels=10, channels=(16, 32, 64), pool_size=4,
    transpose_input=True)
visual_member = dict(visual_trunk, modality='visual', num_classes=num_classes)
audio_member = dict(audio_trunk, modality='audio', num_classes=num_classes)
fusion_member = dict(
    type='LateFusionNet',
    encoders=dict(visual=visual_trunk, audio=audio_trunk),
    hidden_channels=(320, 160),
    num_classes=num_classes)
