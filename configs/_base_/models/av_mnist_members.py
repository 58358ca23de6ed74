# The AV-MNIST members of the paper's Table 5 at full size, as in the
# reference release (models/LeNet5.py, models/CNNs.py):
# - image: LeNet5;
# - audio: ThreeLayerCNN-2D, conv 32/64/128 with a max-pool after each and
#   the flattened 128x14x14 map -> fc (the grid pool is the identity there);
# - multimodal: LeNet5 trunk (84) (+) FiveLayerCNN-2D trunk (conv 32..512,
#   pools after conv1-4, global average pool: 512) -> fusion.fc1 (298) ->
#   fusion.fc2 (10). LateFusionNet names the fused feature `fusion.concat`
#   (596) and the MLP `fusion.fc1`, `fusion.fc2`.
# Two release details are switches of the members (their defaults are the
# common forms; the paper does not specify them): LeNet5 subsamples by
# average pooling (`pool='avg'`) and the fusion MLP has no activation
# between fc1 and fc2 (`hidden_act=False`).
num_classes = 10
image_member = dict(
    type='LeNet5', modality='image', num_classes=num_classes, pool='avg')
audio_member = dict(
    type='CNN2d', modality='audio', channels=(32, 64, 128), pool_last=True,
    pool_size=14, num_classes=num_classes)
fusion_member = dict(
    type='LateFusionNet',
    encoders=dict(
        image=dict(type='LeNet5', pool='avg'),
        audio=dict(type='CNN2d', channels=(32, 64, 128, 256, 512))),
    hidden_channels=(298, ),
    hidden_act=False,
    num_classes=num_classes)
