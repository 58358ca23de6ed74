# Table 8: coefficient-of-variation load balancing instead of KL(U || C).
_base_ = ['../mst_avdigits_image.py']
model = dict(lb_mode='cv')
