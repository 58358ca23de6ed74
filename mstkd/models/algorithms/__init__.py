from .base_distiller import BaseDistiller
from .configurable_distiller import ConfigurableDistiller
from .mgdfr import MGDFRDistiller
from .mst_distill import MSTDistill, SpecializedTeacher
from .pretrained_members import PretrainedMembers

__all__ = [
    'BaseDistiller', 'ConfigurableDistiller', 'MGDFRDistiller',
    'MSTDistill', 'SpecializedTeacher', 'PretrainedMembers'
]
