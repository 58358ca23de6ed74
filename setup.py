"""Install mstkd: ``pip install -e .`` (``make setup`` does it inside ``.venv``)."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    with open(osp.join(HERE, 'mstkd', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname: str) -> list:
    """Read a requirements file: one specifier a line, ``#`` comments."""
    reqs = []
    with open(osp.join(HERE, 'requirements', fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def mm_requirements() -> list:
    """mmcv-lite is pinned, but a full mmcv build of a compatible version is
    accepted instead: when ``mmcv`` with compiled ops is already installed we
    do not ask pip for mmcv-lite (both install the same ``mmcv`` package)."""
    reqs = parse_requirements('mminstall.txt')
    try:
        import mmcv  # noqa: F401
        import mmcv._ext  # noqa: F401
    except ImportError:
        return reqs
    return [r for r in reqs if not r.startswith('mmcv-lite')]


setup(
    name='mstkd',
    version=get_version(),
    description='MST-Distill: Mixture of Specialized Teachers for cross-modal '
    'knowledge distillation, as an OpenMMLab-style toolbox',
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests')),
    include_package_data=True,
    package_data={'mstkd': ['datasets/data/avdigits/*.npz',
                            'datasets/data/avdigits/*.md']},
    install_requires=parse_requirements('runtime.txt') + mm_requirements(),
    extras_require={
        'tests': parse_requirements('tests.txt'),
        'optional': parse_requirements('optional.txt'),
    },
    zip_safe=False,
)
