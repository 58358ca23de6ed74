"""The ``sys.meta_path`` finder shared by mstkd's compatibility fixes.

One :class:`_CompatFinder` instance (:data:`_FINDER`), put at the front of
``sys.meta_path`` on first use by :func:`_ensure_finder`, does two things:

- it serves stand-in modules for whole packages (a package name mapped to a
  spec factory in :attr:`_CompatFinder.served`; used by
  :mod:`mstkd.utils.compat.mmcv_ops_shim` for ``mmcv.ops``);
- it runs a callback right after a module is imported (a module name mapped
  to a callback in :attr:`_CompatFinder.post_import_hooks`; used by
  :func:`mstkd.utils.compat.apply_compat` to set up
  :mod:`mstkd.utils.compat.safe_loading` when
  ``mmengine.runner.checkpoint`` is imported). The module itself is loaded
  by the finders behind this one, then the callback gets it.

Every other name is left to the finders behind it. :data:`_LOCK` guards the
changes the compatibility fixes make to the finder and to the libraries.
"""
import importlib.abc
import importlib.machinery
import sys
import threading
import warnings
from typing import Any, Callable, Dict

_LOCK = threading.RLock()


class _PostImportLoader(importlib.abc.Loader):
    """Runs ``callback(module)`` after ``loader`` has executed ``module``."""

    def __init__(self, loader, callback: Callable) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        try:
            self._callback(module)
        except Exception as err:  # never break the import itself
            warnings.warn(f'mstkd.utils.compat.import_hooks: post-import hook '
                          f'for {module.__name__} failed: {err!r}')

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, get_resource_reader, ... of the real one.
        return getattr(self._loader, name)


class _CompatFinder(importlib.abc.MetaPathFinder):
    """``sys.meta_path`` entry of mstkd's compatibility fixes (one instance,
    at the front).

    Attributes:
        served (dict): Package name -> ``spec_factory(fullname)`` returning
            the :class:`~importlib.machinery.ModuleSpec` of a stand-in for
            the package or any of its submodules.
        post_import_hooks (dict): Module name -> ``callback(module)``, run
            once, right after the module is next imported.
    """

    def __init__(self) -> None:
        self.served: Dict[str, Callable[[str],
                                        importlib.machinery.ModuleSpec]] = {}
        self.post_import_hooks: Dict[str, Callable] = {}

    def find_spec(self, fullname, path=None, target=None):
        for package, spec_factory in tuple(self.served.items()):
            if fullname == package or fullname.startswith(package + '.'):
                return spec_factory(fullname)
        callback = self.post_import_hooks.pop(fullname, None)
        if callback is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader,
                                                       'exec_module'):
                    spec.loader = _PostImportLoader(spec.loader, callback)
                return spec
        return None


_FINDER = _CompatFinder()


def _ensure_finder() -> None:
    """Put :data:`_FINDER` at the front of ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
