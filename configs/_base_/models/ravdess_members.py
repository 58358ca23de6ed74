# The RAVDESS members of the paper's Table 5 (widths from the reference
# release, models/SeqNets.py; the paper gives none):
# - video [3, 15, H, W]: ThreeLayerCNN-3D (6/12/24, BN, 2x2x2 max-pools) +
#   MLP fc1 320 -> fc2 160 -> fc3 8;
# - audio [15, 156] MFCCs: ThreeLayerCNN-1D (32/128/256, BN, max-pools of 3)
#   + MLP fc1 320 -> fc2 160 -> fc3 8;
# - multimodal: the two conv trunks (18,816 + 1,280 features) concatenated
#   -> fusion.fc1 (320) -> fusion.fc2 (160) -> fusion.fc3 (8).
num_classes = 8
video_member = dict(type='CNN3d', modality='video', num_classes=num_classes)
audio_member = dict(type='CNN1d', modality='audio', num_classes=num_classes)
fusion_member = dict(
    type='LateFusionNet',
    encoders=dict(video=dict(type='CNN3d'), audio=dict(type='CNN1d')),
    hidden_channels=(320, 160),
    num_classes=num_classes)
