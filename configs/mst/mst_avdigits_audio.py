# MST-Distill on AV-Digits, audio student: the cross-modal teacher is LeNet5
# (its conv3, 120x1x1 treated as 120-d, and fc1).
_base_ = ['./mst_avdigits_image.py']
model = dict(
    target='audio',
    teachers=dict(_delete_=True, mm=['fusion.concat', 'fusion.fc1'],
                  image=['conv3', 'fc1']))
