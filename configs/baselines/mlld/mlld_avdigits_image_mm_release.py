# MLLD on AV-Digits as the reference release runs it (main-MLLD.py,
# KD_methods/MLLD.py): (1 - alpha) CE + alpha MLLD with alpha = 0.5, the
# batch- and class-level terms as mean squared differences, the total
# divided by 3 x the number of temperatures.
_base_ = ['./mlld_avdigits_image_mm.py']
model = dict(
    losses=dict(
        loss_ce=dict(loss_weight=0.5),
        loss_mlld=dict(reduction='release', loss_weight=0.5)))
