from .mst_constructor import MSTOptimWrapperConstructor

__all__ = ['MSTOptimWrapperConstructor']
