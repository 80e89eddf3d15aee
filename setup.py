"""Builds the optional C hash kernel; everything else is in pyproject.toml.

The kernel is optional: where no C compiler is available, partsim installs without it and
hashes with its numpy kernels instead (same results, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "partsim._kernels",
            sources=["partsim/_kernels.c"],
            # No fused multiply-add: the kernels repeat numpy's float arithmetic to the bit.
            extra_compile_args=["-O3", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
