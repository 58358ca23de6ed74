from .cls_metric import ClsMetric, confusion_matrix, metrics_from_confusion
from .seg_metric import SegMetric

__all__ = ['ClsMetric', 'SegMetric', 'confusion_matrix',
           'metrics_from_confusion']
