"""Build the miner's compiled kernels; everything else about the package is in pyproject.toml.

The kernels are plain C over the buffer protocol (no NumPy headers), so any C compiler
and the Python headers build them: ``pip install -e .`` compiles them in place.
"""

from setuptools import Extension, setup

KERNELS = [
    Extension(
        f"xsell.mining.{name}",
        sources=[f"src/xsell/mining/{name}.c"],
        depends=["src/xsell/mining/_buffers.h"],
        extra_compile_args=["-O3", "-std=c11"],
    )
    for name in ("_eclat", "_baskets")
]

setup(ext_modules=KERNELS)
