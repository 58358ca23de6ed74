# The public reference release where it differs from the paper: stacked
# masks in S3, LB divided by N, decay from epoch 0, GateNet without
# activation whose LB gradient reaches the student (see README).
_base_ = ['../mst_avdigits_image.py']
model = dict(reference_compat=True)
