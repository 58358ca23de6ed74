# Table 3 without S3's routing: mean KD over all specialized teachers.
_base_ = ['../mst_avdigits_image.py']
model = dict(routing='mean')
