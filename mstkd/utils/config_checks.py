"""Config checks run before the Runner is built (so before its environment
and config dump): a misspelt ``type``, a misspelt argument of the model,
its members or the train loop, a misspelt top-level key given with
``--cfg-options``, a negative stage length, a member whose number of
classes is not the dataset's, and everything the model checks when it is
built (layer paths, record keys, teacher checkpoints: :func:`check_model_builds`).
Each fails as one :class:`~mstkd.utils.errors.UserInputError` naming the key
and the close matches.
"""
import difflib
import inspect
from typing import Iterable, List, Optional, Set

from mmengine.config import Config
from mmengine.registry import DefaultScope, Registry

from .errors import UserInputError

#: Top-level keys the mmengine Runner (and mstkd's tools) read, besides the
#: Runner's own arguments.
EXTRA_TOP_LEVEL = ('runner_type', 'launcher', 'resume', 'load_from',
                   'work_dir', 'default_scope', 'log_level',
                   'model_wrapper_cfg', 'auto_scale_lr', 'experiment_name')


def _close(name: str, candidates: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=3,
                                        cutoff=0.6)
    return f' Did you mean {", ".join(map(repr, matches))}?' \
        if matches else ''


def _registries() -> List[Registry]:
    from mstkd import registry as reg
    return [v for v in vars(reg).values() if isinstance(v, Registry)]


def _family(registries: List[Registry]) -> List[Registry]:
    """The registries and every registry of their roots' trees (mmseg's,
    mmcv's: modules found by scope at build time)."""
    seen: List[Registry] = []

    def add(node):
        if node in seen:
            return
        seen.append(node)
        for child in node.children.values():
            add(child)

    for registry in registries:
        root = registry
        while root.parent is not None:
            root = root.parent
        add(root)
    return seen


def _all_names(registries: List[Registry]) -> Set[str]:
    names = set()
    for registry in _family(registries):
        names.update(registry.module_dict)
    return names


def _lookup(type_name: str, registries: List[Registry]):
    """The classes ``type_name`` names in any mstkd registry (with its
    parents, scoped names such as ``mmseg.X``), or, unscoped, in any
    registry of the same trees (e.g. mmcv's ``LoadImageFromFile`` in an
    mmseg pipeline)."""
    found = []
    with DefaultScope.overwrite_default_scope('mstkd'):
        for registry in registries:
            try:
                obj = registry.get(type_name)
            except Exception:  # a registry that cannot import its scope
                obj = None
            if obj is not None and obj not in found:
                found.append(obj)
    if not found and '.' not in type_name:
        for registry in _family(registries):
            obj = registry.module_dict.get(type_name)
            if obj is not None and obj not in found:
                found.append(obj)
    return found


def check_types(cfg, registries: Optional[List[Registry]] = None) -> None:
    """Every ``type='Name'`` string in the config names a registered
    module."""
    registries = registries or _registries()
    names = None

    def visit(node, path: str):
        nonlocal names
        if isinstance(node, dict):
            kind = node.get('type')
            if isinstance(kind, str) and not _lookup(kind, registries):
                if names is None:
                    names = _all_names(registries)
                raise UserInputError(
                    f"{path or 'config'}.type: unknown type '{kind}': no "
                    "mstkd, mmengine or mmseg registry has it."
                    f'{_close(kind, names)}')
            for key, value in node.items():
                visit(value, f'{path}.{key}' if path else str(key))
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                visit(value, f'{path}[{i}]')

    visit(cfg.to_dict() if isinstance(cfg, Config) else cfg, '')


def accepted_arguments(cls) -> Optional[Set[str]]:
    """The keyword arguments ``cls(...)`` accepts, following ``**kwargs``
    up the MRO; None when a class takes ``**kwargs`` without a parent that
    names them (anything goes)."""
    names: Set[str] = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        var_kw = False
        for p in params:
            if p.kind is p.VAR_KEYWORD:
                var_kw = True
            elif p.kind is not p.VAR_POSITIONAL and p.name != 'self':
                names.add(p.name)
        if not var_kw:
            return names
    return None


def check_arguments(cfg_dict: dict, path: str, registry: Registry,
                    skip: Iterable[str] = ('type', )) -> None:
    """The keys of one ``type`` dict are arguments of its class."""
    kind = cfg_dict.get('type')
    if not isinstance(kind, str):
        return
    classes = _lookup(kind, [registry])
    if len(classes) != 1 or not inspect.isclass(classes[0]):
        return
    accepted = accepted_arguments(classes[0])
    if accepted is None:
        return
    listed = sorted(accepted - {'runner', 'dataloader'})  # the Runner's
    for key in cfg_dict:
        if key in skip or key in accepted or key.startswith('_'):
            continue
        raise UserInputError(
            f"{path}.{key}: {kind} has no argument '{key}'."
            f'{_close(key, listed)} Its arguments: {listed}.')


def check_top_level_options(cfg: Config, options: Optional[dict]) -> None:
    """A ``--cfg-options`` key whose first part is neither in the config
    (``cfg``: before the options are merged) nor read by the Runner is a
    typo (``load_form=...``), not a new key."""
    if not options:
        return
    from mmengine.runner import Runner
    known = set(inspect.signature(Runner.__init__).parameters) | set(
        EXTRA_TOP_LEVEL) | set(cfg.keys())
    for key in options:
        top = key.split('.', 1)[0]
        if top not in known:
            raise UserInputError(
                f"--cfg-options {key}: '{top}' is no key of the config nor "
                f'an option of the Runner.{_close(top, known)}')


def check_stage_epochs(cfg: Config) -> None:
    train_cfg = cfg.get('train_cfg') or {}
    for key, value in train_cfg.items():
        if key.endswith('epochs') and isinstance(value, int) and value < 0:
            raise UserInputError(
                f'train_cfg.{key}={value}: the number of epochs must be >= 0.')
    stages = train_cfg.get('stages')
    if isinstance(stages, dict):
        from mstkd.engine.loops.multi_stage_loop import parse_stage_epochs
        parse_stage_epochs(stages)


def check_class_counts(cfg: Config) -> None:
    """Every member's ``num_classes`` equals the training set's number of
    classes (``METAINFO['classes']`` of its dataset class, or the config's
    ``metainfo``)."""
    from mstkd.registry import DATASETS
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    model = cfg.get('model') or {}
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None and isinstance(dataset.get('type'), str):
        found = _lookup(dataset['type'], [DATASETS])
        if len(found) == 1:
            classes = getattr(found[0], 'METAINFO', {}).get('classes')
            # a dataset whose label space depends on its arguments
            if hasattr(found[0], 'classes_for_config'):
                classes = found[0].classes_for_config(dataset)
    if not classes:
        return
    members = dict(model.get('members') or {})
    if isinstance(model.get('member'), dict):
        members['member'] = model['member']
    for name, member in members.items():
        num = member.get('num_classes') if isinstance(member, dict) else None
        if isinstance(num, int) and num != len(classes):
            path = 'model.member' if name == 'member' else \
                f'model.members.{name}'
            raise UserInputError(
                f'{path}.num_classes={num}, but the training set '
                f"({dataset.get('type')}) has {len(classes)} classes: set "
                f'num_classes={len(classes)}.')


def check_model_builds(cfg: Config) -> None:
    """Build the config's model once and drop it, so that the errors the
    model raises when built (a wrong layer path with the list of valid
    ones, an unknown record key, a missing teacher run) come before the
    Runner's environment dump. The random states (torch, numpy, random)
    are restored and the build's log lines are muted, so the run that
    follows is unchanged."""
    import logging
    import random

    import numpy as np
    import torch
    from mmengine.logging import MMLogger

    from mstkd.registry import MODELS
    model_cfg = cfg.get('model')
    if not isinstance(model_cfg, dict):
        return
    py_state, np_state = random.getstate(), np.random.get_state()
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with torch.random.fork_rng(devices=[]), \
                DefaultScope.overwrite_default_scope(
                    cfg.get('default_scope', 'mstkd')):
            MODELS.build(model_cfg)
    finally:
        logger.setLevel(level)
        random.setstate(py_state)
        np.random.set_state(np_state)


def check_config(cfg: Config) -> None:
    """The types, the arguments of the model, its members and the train
    loop, and the stage lengths of a (merged) config."""
    from mstkd.registry import LOOPS, MODELS
    check_types(cfg)
    check_stage_epochs(cfg)
    check_class_counts(cfg)
    model = cfg.get('model')
    if isinstance(model, dict):
        check_arguments(model, 'model', MODELS)
        members = model.get('members')
        if isinstance(members, dict):
            for name, member in members.items():
                if isinstance(member, dict):
                    check_arguments(member, f'model.members.{name}', MODELS)
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict):
        if 'type' in train_cfg:
            check_arguments(train_cfg, 'train_cfg', LOOPS)
        elif train_cfg.get('by_epoch', True):
            check_arguments(dict(train_cfg, type='EpochBasedTrainLoop'),
                            'train_cfg', LOOPS, skip=('type', 'by_epoch'))
