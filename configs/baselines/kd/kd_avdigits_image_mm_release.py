# KD as the reference release weighs it (main-KD.py):
#   (1 - alpha) CE + alpha T^2 KL, alpha = 0.5 halved after every 30 epochs
# (`args.alpha *= 0.5 if (epoch + 1) % 30 == 0`), i.e. StepDecay(0.5, 30, 0.5)
# on the KL and its complement on the CE. Hinton et al.'s default here: both
# weights 1 (kd_avdigits_image_mm.py).
_base_ = ['./kd_avdigits_image_mm.py']
alpha = dict(type='StepDecay', initial=0.5, step=30, factor=0.5)
model = dict(
    losses=dict(
        loss_ce=dict(loss_weight=dict(alpha, complement=True)),
        loss_kd=dict(loss_weight=alpha)))
