"""Connectors: trainable maps between recorded features (regressors,
projectors) whose widths a distiller fills in from a dry forward."""
from .conv_connector import ConvConnector
from .linear_connector import LinearConnector
from .ofa_projector import OFAProjector
from .proxy_head import ProxyHead

__all__ = ['ConvConnector', 'LinearConnector', 'OFAProjector', 'ProxyHead']
