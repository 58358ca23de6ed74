"""Small helpers the loops and hooks share."""
from typing import Optional


def current_stage(runner) -> Optional[str]:
    """The stage the runner's train loop is in, or None (no multi-stage
    loop built, e.g. in ``runner.test()``)."""
    loop = runner._train_loop
    if loop is None or isinstance(loop, dict):
        return None
    return getattr(loop, 'stage', None)
