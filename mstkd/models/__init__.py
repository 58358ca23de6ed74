from .classifiers import *  # noqa: F401,F403
from .distill import *  # noqa: F401,F403
from .members import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .wrappers import DeviceAgnosticDDP  # noqa: F401
