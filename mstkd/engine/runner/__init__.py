from .log_processor import StageLogProcessor

__all__ = ['StageLogProcessor']
