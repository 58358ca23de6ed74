# The public reference release where it differs from the paper: every
# reference_compat item (stacked masks in S3, LB divided by N, the release's
# lambda decay, GateNet without activation whose LB gradient reaches the
# student, learned spatial reduction in the 2-D MaskNets, mean over the top-k
# KD terms, unsquared CV, one joint S2 MaskNet selection; see docs/method.md).
_base_ = ['../mst_avdigits_image.py']
model = dict(reference_compat=True)
