"""Losses declared in distiller configs, one per file (mmseg style:
``loss_weight``, ``loss_name``)."""
from .base_loss import BaseLoss, SoftenedKLLoss
from .cross_entropy_loss import CrossEntropyLoss
from .kl_divergence_loss import KLDivergenceLoss
from .load_balance_loss import LoadBalanceLoss, load_balance
from .mse_loss import MSELoss
from .mutual_kl_loss import MutualKLLoss
from .routed_kd_loss import RoutedKDLoss, routed_kd
from .utils import kl_divergence, pointwise_kl, reduce_loss
from .weight_schedules import StepDecay

__all__ = [
    'BaseLoss', 'CrossEntropyLoss', 'KLDivergenceLoss', 'LoadBalanceLoss',
    'MSELoss', 'MutualKLLoss', 'RoutedKDLoss', 'SoftenedKLLoss', 'StepDecay',
    'kl_divergence',
    'load_balance', 'pointwise_kl', 'reduce_loss', 'routed_kd'
]
