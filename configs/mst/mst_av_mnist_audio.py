# MST-Distill on AV-MNIST, audio student (paper Table 1, MST-Distill row,
# AV-MNIST audio). Cross-modal teacher: LeNet5, MaskNets at its conv3
# (120x1x1, treated as 120-d) and fc1 (84).
_base_ = ['./mst_av_mnist_image.py']
model = dict(
    target='audio',
    teachers=dict(
        _delete_=True, mm=['fusion.concat', 'fusion.fc1'],
        image=['conv3', 'fc1']))
