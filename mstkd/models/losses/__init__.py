"""Losses declared in distiller configs, one per file (mmseg style:
``loss_weight``, ``loss_name``)."""
from .base_loss import BaseLoss, SoftenedKLLoss
from .c2kd_loss import C2KDLoss, kendall_tau, non_target_log_probs
from .crd_loss import CRDLoss
from .cross_entropy_loss import CrossEntropyLoss
from .kl_divergence_loss import KLDivergenceLoss
from .load_balance_loss import LoadBalanceLoss, load_balance
from .mse_loss import MSELoss
from .multi_level_logit_loss import MultiLevelLogitLoss
from .mutual_kl_loss import MutualKLLoss
from .ofa_loss import OFALoss, ofa_loss
from .rkd_loss import RKDLoss
from .routed_kd_loss import RoutedKDLoss, routed_kd, weighted_kd
from .teacher_quality_loss import TeacherQualityLoss, best_teacher
from .utils import kl_divergence, pointwise_kl, reduce_loss
from .weight_schedules import StepDecay

__all__ = [
    'BaseLoss', 'C2KDLoss', 'CRDLoss', 'CrossEntropyLoss',
    'KLDivergenceLoss',
    'LoadBalanceLoss', 'MSELoss', 'MultiLevelLogitLoss', 'MutualKLLoss',
    'OFALoss', 'RKDLoss', 'RoutedKDLoss', 'SoftenedKLLoss', 'StepDecay',
    'TeacherQualityLoss', 'best_teacher', 'weighted_kd',
    'kendall_tau', 'kl_divergence', 'load_balance', 'non_target_log_probs',
    'ofa_loss', 'pointwise_kl',
    'reduce_loss', 'routed_kd'
]
