from .cnn1d import CNN1d
from .cnn2d import CNN2d
from .cnn3d import CNN3d
from .late_fusion import LateFusionNet
from .lenet5 import LeNet5
from .mlp import MLP

__all__ = ['CNN1d', 'CNN2d', 'CNN3d', 'LateFusionNet', 'LeNet5', 'MLP']
