from .cls_task import ClsTask, pack_predictions
from .seg_task import SegTask

__all__ = ['ClsTask', 'SegTask', 'pack_predictions']
