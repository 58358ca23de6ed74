from .stage_constructor import StageOptimWrapperConstructor

__all__ = ['StageOptimWrapperConstructor']
