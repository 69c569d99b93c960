"""Build script for the one compiled part: everything else is in pyproject.toml.

``scanner.extract._pdfpage`` (Cython) speeds up the PDF extractor. It is optional: where it
cannot be compiled (no C compiler), setuptools says so and the install goes on without it, and the
extractor runs its Python loops instead.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("scanner.extract._pdfpage", ["scanner/extract/_pdfpage.pyx"], optional=True)],
    compiler_directives={"language_level": "3"}, quiet=True))
