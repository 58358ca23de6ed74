# The CrisisMMD-V2 members of the paper's Table 5 (reference release,
# models/MLPs.py): image MLP 2048 -> fc1 1024 -> fc2 512 -> fc3 8, text MLP
# 768 -> fc1 1024 -> fc2 512 -> fc3 8; multimodal: both MLPs without fc3
# (512 + 512) -> fusion.fc1 (512) -> fusion.fc2 (256) -> fusion.fc3 (8).
num_classes = 8
image_member = dict(
    type='MLP', modality='image', in_channels=2048,
    hidden_channels=(1024, 512), num_classes=num_classes)
text_member = dict(
    type='MLP', modality='text', in_channels=768,
    hidden_channels=(1024, 512), num_classes=num_classes)
fusion_member = dict(
    type='LateFusionNet',
    encoders=dict(
        image=dict(type='MLP', in_channels=2048, hidden_channels=(1024, 512)),
        text=dict(type='MLP', in_channels=768, hidden_channels=(1024, 512))),
    hidden_channels=(512, 256),
    num_classes=num_classes)
