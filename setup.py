"""Build script for the compiled parts: everything else is in pyproject.toml.

Two modules of the PDF extractor are compiled with Cython: ``scanner.extract._pdfpage`` (its loops
over every word and page object, calling pdfium directly) and ``scanner.extract._layout`` (the
same Python file, typed by ``_layout.pxd``). Both are optional: where they cannot be built (no C
compiler, or Cython failing), the install goes on without them and the Python code runs instead.
"""

import sys

from setuptools import Extension, setup

modules = [Extension("scanner.extract._pdfpage", ["scanner/extract/_pdfpage.pyx"], optional=True),
           Extension("scanner.extract._layout", ["scanner/extract/_layout.py"], optional=True)]
try:
    from Cython.Build import cythonize

    # annotations are hints for readers and type checkers; the C types are in the .pxd/.pyx
    extensions = cythonize(modules, quiet=True,
                           compiler_directives={"language_level": "3", "annotation_typing": False})
except Exception as exc:  # any failure here only costs speed
    print(f"leakscan: not compiling the PDF accelerators ({type(exc).__name__}: {exc}); "
          "the Python code runs instead", file=sys.stderr)
    extensions = []

setup(ext_modules=extensions)
