"""Installs rmt_mm: Regularized Mask Tuning of CLIP for mmpretrain."""
import os.path as osp

from setuptools import find_packages, setup


def get_version() -> str:
    namespace = {}
    with open(osp.join('rmt_mm', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def parse_requirements(path: str) -> list:
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


setup(
    name='rmt_mm',
    version=get_version(),
    description='Regularized Mask Tuning (R-AMT, ICCV 2023) of CLIP as an '
    'OpenMMLab plugin',
    long_description=open('README.md').read() if osp.exists('README.md')
    else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    python_requires='>=3.9',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require=dict(tests=parse_requirements('requirements/tests.txt'),
                        demo=parse_requirements('requirements/demo.txt')),
    zip_safe=False,
    license='Apache License 2.0',
)
