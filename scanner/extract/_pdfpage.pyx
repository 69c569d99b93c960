# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The PDF extractor's two loops over every word and every object of a page, compiled.

Optional: :mod:`scanner.extract.pdf` uses these when the extension was built (``pip install``
compiles it with Cython where a C compiler is available) and its own Python loops otherwise; the
tests hold both to the same output. Each loop calls pdfium for every word or page object. Through
ctypes a call costs about 0.3 µs plus the Python around it, which on a text PDF without embedded
fonts is as much time as pdfium spends loading the page; here a call is a plain C call.

pdfium's functions are called through the addresses of the ones pypdfium2 loaded (:func:`bind`),
so nothing is linked against pdfium at build time and the same library is used either way.
"""

from libc.stdint cimport uintptr_t


ctypedef struct FS_RECTF:
    float left
    float top
    float right
    float bottom

ctypedef int (*loose_box_fn)(void* textpage, int index, FS_RECTF* rect) noexcept nogil
ctypedef int (*count_fn)(void* handle) noexcept nogil
ctypedef void* (*get_object_fn)(void* page, int index) noexcept nogil
ctypedef int (*bounds_fn)(void* obj, float* left, float* bottom, float* right, float* top) noexcept nogil

cdef loose_box_fn _loose_box = NULL
cdef count_fn _count_objects = NULL
cdef get_object_fn _get_object = NULL
cdef count_fn _object_type = NULL
cdef bounds_fn _object_bounds = NULL
cdef count_fn _count_segments = NULL
cdef int _path_type = 2  # FPDF_PAGEOBJ_PATH, set by bind()


def bind(dict addresses, int path_type):
    """Take pdfium's functions from their addresses (name → int, as pypdfium2 loaded them)."""
    global _loose_box, _count_objects, _get_object, _object_type, _object_bounds, _count_segments, _path_type
    _loose_box = <loose_box_fn><uintptr_t>addresses["FPDFText_GetLooseCharBox"]
    _count_objects = <count_fn><uintptr_t>addresses["FPDFPage_CountObjects"]
    _get_object = <get_object_fn><uintptr_t>addresses["FPDFPage_GetObject"]
    _object_type = <count_fn><uintptr_t>addresses["FPDFPageObj_GetType"]
    _object_bounds = <bounds_fn><uintptr_t>addresses["FPDFPageObj_GetBounds"]
    _count_segments = <count_fn><uintptr_t>addresses["FPDFPath_CountSegments"]
    _path_type = path_type


cdef inline bint _in_run(Py_UCS4 c):
    # the characters of pdf._RUN: [^\s\x00-\x1f\ufffe\uffff]
    return c > 0x1f and not c.isspace() and c != 0xfffe and c != 0xffff


cdef inline bint _is_space(Py_UCS4 c):
    # pdf._SPACES
    return c == 0x20 or c == 0xa0 or c == 0x3000 or c == 0x09


def glyphs(uintptr_t textpage, str text):
    """What ``pdf._glyphs`` returns for an upright page: each run of characters between pdfium's
    spaces and line breaks as (x0, x1, top, bottom, text, space_before), placed by its first and
    last character's box, or character by character when those do not look adjacent."""
    cdef void* tp = <void*>textpage
    cdef Py_ssize_t n = len(text), start, end, i
    cdef FS_RECTF first, last
    cdef double left, top, right, bottom, h, width
    cdef bint space
    out = []
    if _loose_box == NULL:
        raise RuntimeError("bind() first")
    i = 0
    while i < n:
        if not _in_run(text[i]):
            i += 1
            continue
        start = i
        while i < n and _in_run(text[i]):
            i += 1
        end = i
        space = start > 0 and _is_space(text[start - 1])
        if not _loose_box(tp, <int>start, &first):
            continue
        left, top, right, bottom = first.left, first.top, first.right, first.bottom
        if end - start > 1:
            if not _loose_box(tp, <int>(end - 1), &last):
                continue
            h = top - bottom
            if <double>last.top - <double>last.bottom > h:
                h = <double>last.top - <double>last.bottom
            width = <double>last.right - left
            if width > (end - start) * 1.25 * h + 1 or width < 0 or last.bottom >= top or last.top <= bottom:
                _each_char(tp, text, start, end, space, out)
                continue
            right = last.right
            if last.bottom < bottom:
                bottom = last.bottom
            if last.top > top:
                top = last.top
        if top <= bottom:
            continue
        out.append((left, right, -top, -bottom, text[start:end], space))
    return out


cdef void _each_char(void* tp, str text, Py_ssize_t start, Py_ssize_t end, bint space, list out):
    cdef FS_RECTF r
    cdef Py_ssize_t i
    for i in range(start, end):
        if _loose_box(tp, <int>i, &r) and r.top > r.bottom:
            out.append((<double>r.left, <double>r.right, -<double>r.top, -<double>r.bottom, text[i], space))
            space = False


def rules(uintptr_t page, double max_thick, double min_len, Py_ssize_t budget):
    """What ``pdf._rules`` finds on an upright page from path objects drawn as one thin box:
    (horizontal, vertical, paths), ``paths`` holding the addresses of the other path objects
    (to be taken apart segment by segment), up to ``budget`` path segments in all."""
    cdef void* pg = <void*>page
    cdef void* obj
    cdef int i, count
    cdef float fl, fb, fr, ft
    cdef double left, bottom, right, top, width, height
    horizontal = []
    vertical = []
    paths = []
    if _count_objects == NULL:
        raise RuntimeError("bind() first")
    count = _count_objects(pg)
    for i in range(count):
        obj = _get_object(pg, i)
        if _object_type(obj) != _path_type or not _object_bounds(obj, &fl, &fb, &fr, &ft):
            continue
        left, bottom, right, top = fl, fb, fr, ft
        width, height = right - left, top - bottom
        if (height if height < width else width) <= max_thick:
            if (height if height > width else width) >= min_len:
                if right - left >= top - bottom:
                    horizontal.append(((-top + -bottom) / 2, left, right))
                else:
                    vertical.append(((left + right) / 2, -top, -bottom))
            continue
        budget -= _count_segments(obj)
        if budget < 0:
            break
        paths.append(<uintptr_t>obj)
    return horizontal, vertical, paths
