/* One pass over the bytes of a basket-per-line file: baskets as CSR, tokens numbered.
 *
 * Compiled ahead of time (not with Numba) so that reading and mining a file needs no
 * JIT start-up. The Python side is xsell.mining.basket_file.
 */
#include "_buffers.h"

#include <stdlib.h>

static inline int is_space(unsigned char b) { return b == 32 || (b >= 9 && b <= 13); }

static inline uint64_t token_hash(const unsigned char *buf, Py_ssize_t start, Py_ssize_t end) {
    /* FNV-1a over the token's bytes. */
    uint64_t h = 0xCBF29CE484222325ULL;
    for (Py_ssize_t p = start; p < end; p++) {
        h = (h ^ (uint64_t)buf[p]) * 0x100000001B3ULL;
    }
    return h;
}

static int cmp_int32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The table of token ids by hash: open addressing, kept at most half full. */
typedef struct {
    int64_t *slots;
    int64_t mask;
} Table;

static int table_rehash(Table *table, int64_t size, const unsigned char *buf,
                        const int64_t *id_start, const int64_t *id_end, int64_t n_ids) {
    int64_t *slots = malloc((size_t)size * sizeof(int64_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int64_t i = 0; i < size; i++) {
        slots[i] = -1;
    }
    for (int64_t t = 0; t < n_ids; t++) {
        int64_t slot = (int64_t)(token_hash(buf, id_start[t], id_end[t]) & (uint64_t)(size - 1));
        while (slots[slot] >= 0) {
            slot = (slot + 1) & (size - 1);
        }
        slots[slot] = t;
    }
    free(table->slots);
    table->slots = slots;
    table->mask = size - 1;
    return 0;
}

static PyObject *parse(PyObject *self, PyObject *args) {
    PyObject *buffer_obj;
    int delimiter, whitespace;
    if (!PyArg_ParseTuple(args, "Oip", &buffer_obj, &delimiter, &whitespace)) {
        return NULL;
    }
    In in;
    Out indptr = {0}, indices = {0}, starts = {0}, ends = {0};
    Table table = {NULL, 0};
    PyObject *result = NULL;
    if (in_get(buffer_obj, &in, 1, "buffer") < 0) {
        goto done;
    }
    const unsigned char *buf = (const unsigned char *)in.view.buf;
    Py_ssize_t n = in.view.len;
    if (out_init(&indptr, 1024, 8) < 0 || out_init(&indices, 1024, 4) < 0 ||
        out_init(&starts, 1024, 8) < 0 || out_init(&ends, 1024, 8) < 0) {
        goto done;
    }
    if (table_rehash(&table, 1 << 16, buf, NULL, NULL, 0) < 0) {
        goto done;
    }
    int64_t n_ids = 0, n_tokens = 0, n_rows = 0;
    OUT_PTR(indptr, int64_t)[0] = 0;
    Py_ssize_t pos = 0;
    while (pos < n) {
        Py_ssize_t line_end = pos;
        const unsigned char *nl = memchr(buf + pos, '\n', (size_t)(n - pos));
        line_end = nl == NULL ? n : (Py_ssize_t)(nl - buf);
        /* A line has no more tokens (or new ids) than bytes: make room once per line. */
        Py_ssize_t room = line_end - pos + 1;
        if (out_reserve(&indices, n_tokens + room) < 0 || out_reserve(&starts, n_ids + room) < 0 ||
            out_reserve(&ends, n_ids + room) < 0 || out_reserve(&indptr, n_rows + 2) < 0) {
            goto done;
        }
        if (2 * (n_ids + room) > table.mask + 1) {
            int64_t size = table.mask + 1;
            while (2 * (n_ids + room) > size) {
                size *= 4;
            }
            if (table_rehash(&table, size, buf, OUT_PTR(starts, int64_t), OUT_PTR(ends, int64_t),
                             n_ids) < 0) {
                goto done;
            }
        }
        int32_t *idx = OUT_PTR(indices, int32_t);
        int64_t *id_start = OUT_PTR(starts, int64_t);
        int64_t *id_end = OUT_PTR(ends, int64_t);
        int64_t row_start = n_tokens;
        Py_ssize_t p = pos;
        while (p < line_end) {
            Py_ssize_t start, end;
            if (whitespace) {
                while (p < line_end && is_space(buf[p])) {
                    p++;
                }
                start = p;
                while (p < line_end && !is_space(buf[p])) {
                    p++;
                }
                end = p;
            } else {
                start = p;
                while (p < line_end && buf[p] != (unsigned char)delimiter) {
                    p++;
                }
                end = p;
                p++;
                while (start < end && is_space(buf[start])) {
                    start++;
                }
                while (end > start && is_space(buf[end - 1])) {
                    end--;
                }
            }
            if (end <= start) {
                continue;
            }
            int64_t slot = (int64_t)(token_hash(buf, start, end) & (uint64_t)table.mask);
            int64_t found = -1;
            while (table.slots[slot] >= 0) {
                int64_t t = table.slots[slot];
                if (id_end[t] - id_start[t] == end - start &&
                    memcmp(buf + id_start[t], buf + start, (size_t)(end - start)) == 0) {
                    found = t;
                    break;
                }
                slot = (slot + 1) & table.mask;
            }
            if (found < 0) {
                found = n_ids;
                id_start[n_ids] = start;
                id_end[n_ids] = end;
                n_ids++;
                table.slots[slot] = found;
            }
            idx[n_tokens++] = (int32_t)found;
        }
        pos = line_end + 1;
        if (n_tokens > row_start) {
            /* Sorted, distinct items per basket (a repeated item counts once). */
            int64_t len = n_tokens - row_start;
            int32_t *row = idx + row_start;
            if (len > 32) {
                qsort(row, (size_t)len, sizeof(int32_t), cmp_int32);
            } else {
                for (int64_t q = 1; q < len; q++) {
                    int32_t value = row[q];
                    int64_t r = q - 1;
                    while (r >= 0 && row[r] > value) {
                        row[r + 1] = row[r];
                        r--;
                    }
                    row[r + 1] = value;
                }
            }
            int64_t kept = 1;
            for (int64_t q = 1; q < len; q++) {
                if (row[q] != row[kept - 1]) {
                    row[kept++] = row[q];
                }
            }
            n_tokens = row_start + kept;
            n_rows++;
            OUT_PTR(indptr, int64_t)[n_rows] = n_tokens;
        }
    }
    if (out_finish(&indptr, n_rows + 1) < 0 || out_finish(&indices, n_tokens) < 0 ||
        out_finish(&starts, n_ids) < 0 || out_finish(&ends, n_ids) < 0) {
        goto done;
    }
    result = Py_BuildValue("(OOOO)", indptr.obj, indices.obj, starts.obj, ends.obj);
done:
    free(table.slots);
    in_release(&in);
    out_drop(&indptr);
    out_drop(&indices);
    out_drop(&starts);
    out_drop(&ends);
    return result;
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_VARARGS,
     "parse(buffer, delimiter, whitespace) -> (indptr, indices, starts, ends) as bytearrays:\n"
     "int64 row pointers, int32 token ids (sorted, distinct per row, numbered by first\n"
     "appearance), int64 byte spans of each id."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_baskets",
    .m_doc = "Basket-per-line files parsed in one compiled pass.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__baskets(void) { return PyModule_Create(&module); }
