# MST-Distill on NYU-Depth-V2, depth student (paper Sec. 4.2, Table 2):
# the RGB-student config with the roles of the two branch nets swapped.
_base_ = ['./mst_nyu_rgb.py']
model = dict(
    target='depth',
    teachers=dict(
        _delete_=True,
        mm=['bottleneck', 'decoder.block1'],
        rgb=['encoder.block5', 'decoder.block1']))
