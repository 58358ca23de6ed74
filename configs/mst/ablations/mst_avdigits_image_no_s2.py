# Table 3 without S2: no MaskNets, the teachers are used as they are.
_base_ = ['../mst_avdigits_image.py']
model = dict(use_masknets=False)
train_cfg = dict(s2_epochs=0)
