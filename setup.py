import re

from setuptools import find_packages, setup

with open("nodensync/__init__.py") as f:
    version = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)
with open("requirements.txt") as f:
    requires = [line.strip() for line in f if line.strip() and not line.startswith("#")]

setup(
    name="nodensync",
    version=version,
    description="A Redis-compatible, distributed key-value server on gevent",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["nodensync", "nodensync.*"]),
    package_data={"nodensync.scripting": ["*.lua"]},
    python_requires=">=3.9",
    install_requires=requires,
    entry_points={"console_scripts": ["nodensync = nodensync.cli:main"]},
    classifiers=["Programming Language :: Python :: 3", "Topic :: Database"],
)
