# MST-Distill on CrisisMMD-V2, text student (paper Table 1, MST-Distill row,
# CrisisMMD-V2 text). Cross-modal teacher: the image MLP, MaskNets at its
# fc1 (1024) and fc2 (512).
_base_ = ['./mst_crisismmd_image.py']
model = dict(
    target='text',
    teachers=dict(
        _delete_=True, mm=['fusion.fc1', 'fusion.fc2'],
        image=['fc1', 'fc2']))
