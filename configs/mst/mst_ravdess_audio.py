# MST-Distill on RAVDESS, audio student (paper Table 1, MST-Distill row,
# RAVDESS audio). Cross-modal teacher: the video member, MaskNets at its fc1
# (320) and fc2 (160).
_base_ = ['./mst_ravdess_video.py']
model = dict(
    target='audio',
    teachers=dict(
        _delete_=True, mm=['fusion.fc1', 'fusion.fc2'],
        video=['fc1', 'fc2']))
