# Figure 6: top-2 routing (k = 1..N).
_base_ = ['../mst_avdigits_image.py']
model = dict(k=2)
