# Figure 5: cross-modal teacher only (N = 2).
_base_ = ['../mst_avdigits_image.py']
model = dict(teachers=dict(_delete_=True, audio=['conv2', 'conv3']))
