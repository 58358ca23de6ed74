# MST-Distill on VGGSound-50k, audio student (paper Table 1, MST-Distill row,
# VGGSound-50k audio). Cross-modal teacher: the visual member, MaskNets at
# its fc1 (320) and fc2 (160).
_base_ = ['./mst_vggsound50k_visual.py']
model = dict(
    target='audio',
    teachers=dict(
        _delete_=True, mm=['fusion.fc1', 'fusion.fc2'],
        visual=['fc1', 'fc2']))
