# Table 3 without S1: members trained independently (CE only, no alignment).
_base_ = ['../mst_avdigits_image.py']
model = dict(collaborative='independent')
