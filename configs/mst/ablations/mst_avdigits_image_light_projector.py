# The cheaper MaskNet projector (2*d*h weights instead of d*d*h).
_base_ = ['../mst_avdigits_image.py']
model = dict(masknet=dict(projector='light'))
