from .cnn2d import CNN2d
from .late_fusion import LateFusionNet
from .lenet5 import LeNet5
from .mlp import MLP

__all__ = ['CNN2d', 'LateFusionNet', 'LeNet5', 'MLP']
