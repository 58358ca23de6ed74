from .cls_metric import ClsMetric, confusion_matrix, metrics_from_confusion

__all__ = ['ClsMetric', 'confusion_matrix', 'metrics_from_confusion']
