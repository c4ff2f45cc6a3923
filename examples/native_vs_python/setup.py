"""The C extension; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("energy_sorts._csort", ["src/energy_sorts/_csort.c"], extra_compile_args=["-O2"]),
    ],
)
