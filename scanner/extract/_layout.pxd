# Types for the compiled build of _layout.py (Cython "augmenting" declarations): the Python file
# stays the one source, and runs as it is where the extension was not built.
import cython


cdef class Rules:
    cdef public list horizontal, vertical, _hy, _vx
    cpdef bint vertical_between(self, double xa, double xb, double y)
    cpdef bint horizontal_between(self, double ya, double yb, double xa, double xb)


cdef class _Fragment:
    cdef public str text
    cdef public double x0, x1, top, bottom, height
    cdef public Py_ssize_t line
    cdef public double left_x1, right_x0


cdef class _Block:
    cdef public list parts
    cdef public double x0, x1, top, bottom
    cdef public _Fragment tail
    cpdef add(self, _Fragment frag)


@cython.locals(n=Py_ssize_t, i=Py_ssize_t, start=Py_ssize_t, h=double, split=double, space=double,
               rule_gap=double, gap=double, check_rules=bint)
cpdef list _fragments(list line, Py_ssize_t index, Rules rules)


@cython.locals(x1=double, top=double, bottom=double, i=Py_ssize_t)
cpdef _Fragment _fragment(list chars, list line, Py_ssize_t start, Py_ssize_t end, double h, Py_ssize_t index)


@cython.locals(ruled=bint, factor=double, line_top=double, fx0=double, fx1=double, ftop=double, fline=Py_ssize_t,
               ambiguous=bint, lx0=double, lx1=double, gap=double, h=double, f=_Fragment, frag=_Fragment,
               last=_Fragment, block=_Block, found=_Block, b=_Block)
cpdef list _stack(list lines, Rules rules)


@cython.locals(top=double, bottom=double, h=double, prev_bottom=double, in_table=bint, header_here=bint,
               is_header_row=bint, table=Py_ssize_t, row_no=Py_ssize_t, pos=Py_ssize_t, col=Py_ssize_t,
               best=Py_ssize_t, k=Py_ssize_t, best_ov=double, bx0=double, bx1=double, centre=double, ov=double,
               b=_Block, first=_Block, row=list, columns=list)
cpdef list _segments(list rows, object state, object page)


@cython.locals(bottom=double, b=_Block, row=list)
cpdef list _rows(list blocks)


@cython.locals(limit=double, cy2=double)
cpdef list _lines(list glyphs)
