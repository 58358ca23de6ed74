# Table 7: DML-style S1 (each member learns from detached partners).
_base_ = ['../mst_avdigits_image.py']
model = dict(collaborative='dml')
