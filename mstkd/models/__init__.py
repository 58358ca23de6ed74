from .algorithms import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .connectors import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .members import *  # noqa: F401,F403
from .mst import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .task_modules import *  # noqa: F401,F403
from .wrappers import DeviceAgnosticDDP, unwrap_model  # noqa: F401
