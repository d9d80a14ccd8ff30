/* Arrays in and out of the compiled kernels, through the buffer protocol only.
 *
 * Inputs are any C-contiguous buffer (a NumPy array) of the item size the kernel
 * expects; outputs are bytearrays the kernels grow as they go, which NumPy wraps
 * without a copy (np.frombuffer). No NumPy headers are needed to build.
 */
#ifndef XSELL_BUFFERS_H
#define XSELL_BUFFERS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    Py_buffer view;
    int held;
} In;

/* Borrow the buffer of `obj`, which must hold items of `itemsize` bytes. */
static int in_get(PyObject *obj, In *in, Py_ssize_t itemsize, const char *name) {
    in->held = 0;
    if (PyObject_GetBuffer(obj, &in->view, PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    in->held = 1;
    if (in->view.itemsize != itemsize || in->view.len % itemsize != 0) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous array of %zd-byte items", name,
                     itemsize);
        return -1;
    }
    return 0;
}

static void in_release(In *in) {
    if (in->held) {
        PyBuffer_Release(&in->view);
        in->held = 0;
    }
}

#define IN_LEN(in) ((in).view.len / (in).view.itemsize)
#define IN_PTR(in, type) ((const type *)(in).view.buf)

/* A growable output array backed by a bytearray; `size` is its capacity in items. */
typedef struct {
    PyObject *obj;
    char *data;
    Py_ssize_t size;
    Py_ssize_t itemsize;
} Out;

static int out_init(Out *out, Py_ssize_t items, Py_ssize_t itemsize) {
    out->itemsize = itemsize;
    out->size = items > 0 ? items : 0;
    out->obj = PyByteArray_FromStringAndSize(NULL, out->size * itemsize);
    if (out->obj == NULL) {
        out->data = NULL;
        return -1;
    }
    out->data = PyByteArray_AS_STRING(out->obj);
    return 0;
}

/* Room for at least `need` items (doubling, so that appends cost amortised O(1)). */
static int out_reserve(Out *out, Py_ssize_t need) {
    if (need <= out->size) {
        return 0;
    }
    Py_ssize_t size = out->size * 2;
    if (size < need) {
        size = need;
    }
    if (size < 1024) {
        size = 1024;
    }
    if (PyByteArray_Resize(out->obj, size * out->itemsize) < 0) {
        return -1;
    }
    out->data = PyByteArray_AS_STRING(out->obj);
    out->size = size;
    return 0;
}

/* Cut the array to the `used` items written. */
static int out_finish(Out *out, Py_ssize_t used) {
    if (PyByteArray_Resize(out->obj, used * out->itemsize) < 0) {
        return -1;
    }
    out->data = PyByteArray_AS_STRING(out->obj);
    out->size = used;
    return 0;
}

static void out_drop(Out *out) { Py_CLEAR(out->obj); }

#define OUT_PTR(out, type) ((type *)(out).data)

#endif
