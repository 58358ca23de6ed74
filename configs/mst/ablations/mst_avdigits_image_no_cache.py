# Recompute the frozen teachers every S3 step (identical training, slower).
_base_ = ['../mst_avdigits_image.py']
model = dict(cache_teacher_outputs=False)
