"""Registration of mstkd's modules and the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mstkd module that registers into a registry node.

    Args:
        init_default_scope (bool): Also make ``mstkd`` the global default scope
            so that configs without ``default_scope`` build mstkd's modules.
            Defaults to True.
    """
    import mstkd.datasets  # noqa: F401
    import mstkd.engine  # noqa: F401
    import mstkd.evaluation  # noqa: F401
    import mstkd.models  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mstkd'):
        DefaultScope.get_instance('mstkd', scope_name='mstkd')
        return
    if current.scope_name != 'mstkd':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mstkd"; register_all_modules switches it to '
                      '"mstkd". Pass init_default_scope=False to avoid this.')
        DefaultScope.get_instance(f'mstkd-{datetime.datetime.now()}',
                                  scope_name='mstkd')


def setup_multi_processes(num_threads: int = 0) -> None:
    """Limit intra-op threads (0 keeps torch's default)."""
    import torch
    if num_threads > 0:
        torch.set_num_threads(num_threads)
