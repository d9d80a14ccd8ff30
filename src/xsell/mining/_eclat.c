/* Kernels of the itemset miner: Eclat on vertical tid-lists or bitsets.
 *
 * Compiled ahead of time (not with Numba): a command that mines a file then starts
 * in a tenth of the time. xsell.mining.eclat is the Python side and documents each
 * function; the algorithm is described there.
 */
#include "_buffers.h"

#include <stdlib.h>

#define OVERFLOW (-1)

static int cmp_int32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void sort_int32(int32_t *row, int64_t len) {
    if (len > 32) {
        qsort(row, (size_t)len, sizeof(int32_t), cmp_int32);
        return;
    }
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

/* Parse `count` objects from a tuple of arrays into `ins`, each with its item size. */
static int get_arrays(PyObject *const *objs, In *ins, const Py_ssize_t *itemsizes,
                      const char *const *names, int count) {
    for (int i = 0; i < count; i++) {
        ins[i].held = 0;
    }
    for (int i = 0; i < count; i++) {
        if (in_get(objs[i], &ins[i], itemsizes[i], names[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

static void release_arrays(In *ins, int count) {
    for (int i = 0; i < count; i++) {
        in_release(&ins[i]);
    }
}

/* ------------------------------------------------------------------ project */

static PyObject *project(PyObject *self, PyObject *args) {
    PyObject *objs[4];
    long long n_ranks;
    if (!PyArg_ParseTuple(args, "OOOLO", &objs[0], &objs[1], &objs[2], &n_ranks, &objs[3])) {
        return NULL;
    }
    static const Py_ssize_t sizes[] = {8, 4, 4, 1};
    static const char *const names[] = {"indptr", "indices", "rank_of", "keep_row"};
    In ins[4];
    Out row_ptr = {0}, row_items = {0}, col_ptr = {0}, col_tids = {0};
    int64_t *col_fill = NULL;
    PyObject *result = NULL;
    if (get_arrays(objs, ins, sizes, names, 4) < 0) {
        goto done;
    }
    const int64_t *indptr = IN_PTR(ins[0], int64_t);
    const int32_t *indices = IN_PTR(ins[1], int32_t);
    const int32_t *rank_of = IN_PTR(ins[2], int32_t);
    const uint8_t *keep_row = IN_PTR(ins[3], uint8_t);
    int64_t n_rows = IN_LEN(ins[0]) - 1;
    if (out_init(&row_ptr, n_rows + 1, 8) < 0 || out_init(&col_ptr, n_ranks + 1, 8) < 0) {
        goto done;
    }
    int64_t *rp = OUT_PTR(row_ptr, int64_t);
    int64_t *cp = OUT_PTR(col_ptr, int64_t);
    memset(cp, 0, (size_t)(n_ranks + 1) * sizeof(int64_t));
    rp[0] = 0;
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t kept = 0;
        if (keep_row[r]) {
            for (int64_t k = indptr[r]; k < indptr[r + 1]; k++) {
                int32_t rank = rank_of[indices[k]];
                if (rank >= 0) {
                    kept++;
                    cp[rank + 1]++;
                }
            }
        }
        rp[r + 1] = rp[r] + kept;
    }
    for (int64_t a = 0; a < n_ranks; a++) {
        cp[a + 1] += cp[a];
    }
    if (out_init(&row_items, rp[n_rows], 4) < 0 || out_init(&col_tids, cp[n_ranks], 4) < 0) {
        goto done;
    }
    col_fill = malloc((size_t)(n_ranks + 1) * sizeof(int64_t));
    if (col_fill == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(col_fill, cp, (size_t)(n_ranks + 1) * sizeof(int64_t));
    int32_t *ri = OUT_PTR(row_items, int32_t);
    int32_t *ct = OUT_PTR(col_tids, int32_t);
    for (int64_t r = 0; r < n_rows; r++) {
        if (!keep_row[r]) {
            continue;
        }
        int64_t pos = rp[r];
        for (int64_t k = indptr[r]; k < indptr[r + 1]; k++) {
            int32_t rank = rank_of[indices[k]];
            if (rank >= 0) {
                ri[pos++] = rank;
                ct[col_fill[rank]++] = (int32_t)r;
            }
        }
        sort_int32(ri + rp[r], pos - rp[r]);
    }
    result = Py_BuildValue("(OOOO)", row_ptr.obj, row_items.obj, col_ptr.obj, col_tids.obj);
done:
    free(col_fill);
    release_arrays(ins, 4);
    out_drop(&row_ptr);
    out_drop(&row_items);
    out_drop(&col_ptr);
    out_drop(&col_tids);
    return result;
}

/* -------------------------------------------------------------- count_pairs */

static PyObject *count_pairs(PyObject *self, PyObject *args) {
    PyObject *objs[4];
    long long n_ranks, min_count, cap;
    if (!PyArg_ParseTuple(args, "OOOOLLL", &objs[0], &objs[1], &objs[2], &objs[3], &n_ranks,
                          &min_count, &cap)) {
        return NULL;
    }
    static const Py_ssize_t sizes[] = {8, 4, 8, 4};
    static const char *const names[] = {"row_ptr", "row_items", "col_ptr", "col_tids"};
    In ins[4];
    Out nb_ptr = {0}, nb_item = {0}, nb_count = {0}, hist = {0};
    int32_t *counter = NULL, *touched = NULL;
    PyObject *result = NULL;
    if (get_arrays(objs, ins, sizes, names, 4) < 0) {
        goto done;
    }
    const int64_t *row_ptr = IN_PTR(ins[0], int64_t);
    const int32_t *row_items = IN_PTR(ins[1], int32_t);
    const int64_t *col_ptr = IN_PTR(ins[2], int64_t);
    const int32_t *col_tids = IN_PTR(ins[3], int32_t);
    int64_t most = 0;
    for (int64_t a = 0; a < n_ranks; a++) {
        if (col_ptr[a + 1] - col_ptr[a] > most) {
            most = col_ptr[a + 1] - col_ptr[a];
        }
    }
    counter = calloc((size_t)(n_ranks + 1), sizeof(int32_t));
    touched = malloc((size_t)(n_ranks + 1) * sizeof(int32_t));
    if (counter == NULL || touched == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (out_init(&nb_ptr, n_ranks + 1, 8) < 0 || out_init(&nb_item, 1024, 4) < 0 ||
        out_init(&nb_count, 1024, 4) < 0 || out_init(&hist, most + 1, 8) < 0) {
        goto done;
    }
    int64_t *ptr = OUT_PTR(nb_ptr, int64_t);
    int64_t *h = OUT_PTR(hist, int64_t);
    memset(h, 0, (size_t)(most + 1) * sizeof(int64_t));
    ptr[0] = 0;
    int64_t size = 0, found = 0;
    int overflow = 0;
    for (int64_t a = 0; a < n_ranks; a++) {
        int64_t n_touched = 0;
        for (int64_t k = col_ptr[a]; k < col_ptr[a + 1]; k++) {
            int32_t t = col_tids[k];
            /* Rows are sorted by rank: walk back from the largest until b <= a. */
            for (int64_t j = row_ptr[t + 1] - 1; j >= row_ptr[t]; j--) {
                int32_t b = row_items[j];
                if (b <= a) {
                    break;
                }
                if (counter[b] == 0) {
                    touched[n_touched++] = b;
                }
                counter[b]++;
            }
        }
        int64_t start = size;
        for (int64_t k = 0; k < n_touched; k++) {
            int32_t b = touched[k];
            if (counter[b] >= min_count) {
                h[counter[b]]++;
                found++;
                if (overflow) {
                    continue;
                }
                if (out_reserve(&nb_item, size + 1) < 0 || out_reserve(&nb_count, size + 1) < 0) {
                    goto done;
                }
                OUT_PTR(nb_item, int32_t)[size++] = b;
            }
        }
        if (!overflow) {
            /* Only the frequent partners need sorting, and their counts follow them. */
            int32_t *items = OUT_PTR(nb_item, int32_t);
            int32_t *counts = OUT_PTR(nb_count, int32_t);
            sort_int32(items + start, size - start);
            for (int64_t k = start; k < size; k++) {
                counts[k] = counter[items[k]];
            }
            ptr[a + 1] = size;
            if (size > cap) {
                overflow = 1;
            }
        }
        for (int64_t k = 0; k < n_touched; k++) {
            counter[touched[k]] = 0;
        }
        if ((a & 1023) == 0 && PyErr_CheckSignals() < 0) {
            goto done;
        }
    }
    if (out_finish(&nb_item, size) < 0 || out_finish(&nb_count, size) < 0) {
        goto done;
    }
    result = Py_BuildValue("(OOOOL)", nb_ptr.obj, nb_item.obj, nb_count.obj, hist.obj,
                           (long long)(overflow ? OVERFLOW : found));
done:
    free(counter);
    free(touched);
    release_arrays(ins, 4);
    out_drop(&nb_ptr);
    out_drop(&nb_item);
    out_drop(&nb_count);
    out_drop(&hist);
    return result;
}

/* ---------------------------------------------------------- bit matrices */

static PyObject *pair_bits(PyObject *self, PyObject *args) {
    PyObject *objs[2];
    long long n_ranks;
    if (!PyArg_ParseTuple(args, "OOL", &objs[0], &objs[1], &n_ranks)) {
        return NULL;
    }
    static const Py_ssize_t sizes[] = {8, 4};
    static const char *const names[] = {"nb_ptr", "nb_item"};
    In ins[2];
    Out bits = {0};
    PyObject *result = NULL;
    if (get_arrays(objs, ins, sizes, names, 2) < 0) {
        goto done;
    }
    const int64_t *nb_ptr = IN_PTR(ins[0], int64_t);
    const int32_t *nb_item = IN_PTR(ins[1], int32_t);
    int64_t words = (n_ranks + 63) / 64;
    if (out_init(&bits, n_ranks * words, 8) < 0) {
        goto done;
    }
    uint64_t *b = OUT_PTR(bits, uint64_t);
    memset(b, 0, (size_t)(n_ranks * words) * sizeof(uint64_t));
    for (int64_t a = 0; a < n_ranks; a++) {
        for (int64_t k = nb_ptr[a]; k < nb_ptr[a + 1]; k++) {
            int32_t x = nb_item[k];
            b[a * words + (x >> 6)] |= 1ULL << (x & 63);
        }
    }
    result = Py_NewRef(bits.obj);
done:
    release_arrays(ins, 2);
    out_drop(&bits);
    return result;
}

static PyObject *tid_bitsets(PyObject *self, PyObject *args) {
    PyObject *objs[2];
    long long n_ranks, n_rows;
    if (!PyArg_ParseTuple(args, "OOLL", &objs[0], &objs[1], &n_ranks, &n_rows)) {
        return NULL;
    }
    static const Py_ssize_t sizes[] = {8, 4};
    static const char *const names[] = {"col_ptr", "col_tids"};
    In ins[2];
    Out bits = {0};
    PyObject *result = NULL;
    if (get_arrays(objs, ins, sizes, names, 2) < 0) {
        goto done;
    }
    const int64_t *col_ptr = IN_PTR(ins[0], int64_t);
    const int32_t *col_tids = IN_PTR(ins[1], int32_t);
    int64_t words = (n_rows + 63) / 64;
    if (out_init(&bits, n_ranks * words, 8) < 0) {
        goto done;
    }
    uint64_t *b = OUT_PTR(bits, uint64_t);
    memset(b, 0, (size_t)(n_ranks * words) * sizeof(uint64_t));
    for (int64_t a = 0; a < n_ranks; a++) {
        for (int64_t k = col_ptr[a]; k < col_ptr[a + 1]; k++) {
            int32_t t = col_tids[k];
            b[a * words + (t >> 6)] |= 1ULL << (t & 63);
        }
    }
    result = Py_NewRef(bits.obj);
done:
    release_arrays(ins, 2);
    out_drop(&bits);
    return result;
}

/* --------------------------------------------------------------------- mine */

static inline int64_t popcount64(uint64_t x) { return (int64_t)__builtin_popcountll(x); }

/* Merge two sorted tid-lists of the arena into the arena at out_off; returns the length. */
static inline int64_t intersect(int32_t *arena, int64_t a_off, int64_t a_len, int64_t b_off,
                                int64_t b_len, int64_t out_off) {
    int64_t i = a_off, j = b_off, a_end = a_off + a_len, b_end = b_off + b_len, n = 0;
    while (i < a_end && j < b_end) {
        int32_t x = arena[i], y = arena[j];
        if (x == y) {
            arena[out_off + n++] = x;
            i++;
            j++;
        } else if (x < y) {
            i++;
        } else {
            j++;
        }
    }
    return n;
}

static inline int64_t count_common(const int32_t *arena, int64_t a_off, int64_t a_len,
                                   int64_t b_off, int64_t b_len) {
    int64_t i = a_off, j = b_off, a_end = a_off + a_len, b_end = b_off + b_len, n = 0;
    while (i < a_end && j < b_end) {
        int32_t x = arena[i], y = arena[j];
        n += x == y;
        i += x <= y;
        j += y <= x;
    }
    return n;
}

/* A growable scratch array (malloc'd; offsets into it survive growth). */
typedef struct {
    void *data;
    int64_t size;
    size_t itemsize;
} Grow;

static int grow_init(Grow *g, int64_t size, size_t itemsize) {
    g->itemsize = itemsize;
    g->size = size > 16 ? size : 16;
    g->data = malloc((size_t)g->size * itemsize);
    if (g->data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int grow_reserve(Grow *g, int64_t need) {
    if (need <= g->size) {
        return 0;
    }
    int64_t size = g->size * 2;
    if (size < need) {
        size = need;
    }
    void *data = realloc(g->data, (size_t)size * g->itemsize);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    g->data = data;
    g->size = size;
    return 0;
}

static void grow_free(Grow *g) {
    free(g->data);
    g->data = NULL;
}

typedef struct {
    Out parent, item, count;
    int64_t n;
} Nodes;

static inline int emit(Nodes *nodes, int64_t parent, int32_t item, int32_t count) {
    if (nodes->n + 1 > nodes->parent.size) {
        if (out_reserve(&nodes->parent, nodes->n + 1) < 0 ||
            out_reserve(&nodes->item, nodes->n + 1) < 0 ||
            out_reserve(&nodes->count, nodes->n + 1) < 0) {
            return -1;
        }
    }
    OUT_PTR(nodes->parent, int64_t)[nodes->n] = parent;
    OUT_PTR(nodes->item, int32_t)[nodes->n] = item;
    OUT_PTR(nodes->count, int32_t)[nodes->n] = count;
    nodes->n++;
    return 0;
}

/* Members of the open classes: rank, offset and length of its tid-list or bitset, node. */
typedef struct {
    Grow item, off, len, node;
} Members;

static int members_reserve(Members *m, int64_t need) {
    if (grow_reserve(&m->item, need) < 0 || grow_reserve(&m->off, need) < 0 ||
        grow_reserve(&m->len, need) < 0 || grow_reserve(&m->node, need) < 0) {
        return -1;
    }
    return 0;
}

#define M_ITEM(m) ((int32_t *)(m).item.data)
#define M_OFF(m) ((int64_t *)(m).off.data)
#define M_LEN(m) ((int64_t *)(m).len.data)
#define M_NODE(m) ((int64_t *)(m).node.data)

static PyObject *mine(PyObject *self, PyObject *args) {
    PyObject *objs[11];
    long long words, pwords, min_count, max_len, cap;
    int dense, prune;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOLppOLLLL", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &objs[5], &objs[6], &objs[7], &objs[8], &objs[9], &words,
                          &dense, &prune, &objs[10], &pwords, &min_count, &max_len, &cap)) {
        return NULL;
    }
    static const Py_ssize_t sizes[] = {8, 4, 8, 4, 4, 8, 4, 8, 4, 8, 8};
    static const char *const names[] = {"roots",   "counts",    "nb_ptr",  "nb_item",
                                        "nb_count", "row_ptr",  "row_items", "col_ptr",
                                        "col_tids", "bits",     "pairs_ok"};
    In ins[11];
    Nodes nodes = {{0}, {0}, {0}, 0};
    Members m = {{0}, {0}, {0}, {0}};
    Grow tids = {0}, bitarena = {0}, frames = {0};
    int64_t *slot_of = NULL;
    PyObject *result = NULL;
    if (get_arrays(objs, ins, sizes, names, 11) < 0) {
        goto done;
    }
    const int64_t *roots = IN_PTR(ins[0], int64_t);
    int64_t n_roots = IN_LEN(ins[0]);
    const int32_t *counts = IN_PTR(ins[1], int32_t);
    int64_t n_ranks = IN_LEN(ins[1]);
    const int64_t *nb_ptr = IN_PTR(ins[2], int64_t);
    const int32_t *nb_item = IN_PTR(ins[3], int32_t);
    const int32_t *nb_count = IN_PTR(ins[4], int32_t);
    const int64_t *row_ptr = IN_PTR(ins[5], int64_t);
    const int32_t *row_items = IN_PTR(ins[6], int32_t);
    const int64_t *col_ptr = IN_PTR(ins[7], int64_t);
    const int32_t *col_tids = IN_PTR(ins[8], int32_t);
    const uint64_t *bits = IN_PTR(ins[9], uint64_t);
    const uint64_t *pairs_ok = IN_PTR(ins[10], uint64_t);

    if (out_init(&nodes.parent, 1024, 8) < 0 || out_init(&nodes.item, 1024, 4) < 0 ||
        out_init(&nodes.count, 1024, 4) < 0) {
        goto done;
    }
    if (grow_init(&m.item, 256, 4) < 0 || grow_init(&m.off, 256, 8) < 0 ||
        grow_init(&m.len, 256, 8) < 0 || grow_init(&m.node, 256, 8) < 0) {
        goto done;
    }
    if (grow_init(&tids, dense ? 16 : 1024, 4) < 0 ||
        grow_init(&bitarena, dense ? 64 * words : 16, 8) < 0) {
        goto done;
    }
    /* Frames: a class = members [start, end), next member to extend, arena top, depth. */
    int64_t depth_cap = 2 + (max_len > 0 ? max_len : n_ranks);
    if (grow_init(&frames, 5 * depth_cap, 8) < 0) {
        goto done;
    }
    int64_t *f_start = (int64_t *)frames.data;
    int64_t *f_end = f_start + depth_cap;
    int64_t *f_pos = f_end + depth_cap;
    int64_t *f_top = f_pos + depth_cap;
    int64_t *f_len = f_top + depth_cap;
    slot_of = malloc((size_t)(n_ranks + 1) * sizeof(int64_t));
    if (slot_of == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int64_t i = 0; i <= n_ranks; i++) {
        slot_of[i] = -1;
    }
    int overflow = 0;
    for (int64_t r = 0; r < n_roots && !overflow; r++) {
        int64_t a = roots[r];
        if (counts[a] < min_count) {
            continue;
        }
        if (PyErr_CheckSignals() < 0) {
            goto done;
        }
        int64_t node_a = nodes.n;
        if (emit(&nodes, -1, (int32_t)a, counts[a]) < 0) {
            goto done;
        }
        if (max_len == 1) {
            continue;
        }
        int64_t n_members = 0;
        int64_t top = 0;
        for (int64_t k = nb_ptr[a]; k < nb_ptr[a + 1]; k++) {
            if (nb_count[k] < min_count) {
                continue;
            }
            int32_t b = nb_item[k];
            if (emit(&nodes, node_a, b, nb_count[k]) < 0) {
                goto done;
            }
            if (max_len == 2) {
                continue;
            }
            if (members_reserve(&m, n_members + 1) < 0) {
                goto done;
            }
            if (dense) {
                if (grow_reserve(&bitarena, top + words) < 0) {
                    goto done;
                }
                uint64_t *arena = (uint64_t *)bitarena.data;
                for (int64_t w = 0; w < words; w++) {
                    arena[top + w] = bits[a * words + w] & bits[(int64_t)b * words + w];
                }
                M_OFF(m)[n_members] = top;
                M_LEN(m)[n_members] = nb_count[k];
                top += words;
            } else {
                /* Filled below in one scan of a's baskets. */
                slot_of[b] = n_members;
                M_OFF(m)[n_members] = top;
                M_LEN(m)[n_members] = 0;
                top += nb_count[k];
            }
            M_ITEM(m)[n_members] = b;
            M_NODE(m)[n_members] = nodes.n - 1;
            n_members++;
        }
        if (nodes.n > cap) {
            overflow = 1;
            break;
        }
        if (max_len != 2 && !dense && n_members > 0) {
            /* Projected database: the baskets of a, scanned once, give every tid(a + b)
               without merging a short list against a long one. */
            if (grow_reserve(&tids, top) < 0) {
                goto done;
            }
            int32_t *arena = (int32_t *)tids.data;
            int64_t *off = M_OFF(m), *len = M_LEN(m);
            for (int64_t k = col_ptr[a]; k < col_ptr[a + 1]; k++) {
                int32_t t = col_tids[k];
                for (int64_t j = row_ptr[t + 1] - 1; j >= row_ptr[t]; j--) {
                    int32_t b = row_items[j];
                    if (b <= a) {
                        break;
                    }
                    int64_t slot = slot_of[b];
                    if (slot >= 0) {
                        arena[off[slot] + len[slot]++] = t;
                    }
                }
            }
            for (int64_t k = 0; k < n_members; k++) {
                slot_of[M_ITEM(m)[k]] = -1;
            }
        }
        if (max_len == 2 || n_members < 2) {
            continue;
        }
        int64_t depth = 0;
        f_start[0] = 0;
        f_end[0] = n_members;
        f_pos[0] = 0;
        f_top[0] = 0;
        f_len[0] = 2;
        int64_t m_top = n_members;
        while (depth >= 0) {
            int64_t i = f_pos[depth];
            int64_t end = f_end[depth];
            if (i >= end - 1) {
                /* Class done: free its members and their tid-lists. */
                m_top = f_start[depth];
                top = f_top[depth];
                depth--;
                continue;
            }
            f_pos[depth] = i + 1;
            int64_t new_len = f_len[depth] + 1;
            int keep = max_len <= 0 || new_len < max_len;
            int64_t child_start = m_top;
            int64_t child_top = top;
            int32_t mi = M_ITEM(m)[i];
            for (int64_t j = i + 1; j < end; j++) {
                int32_t mj = M_ITEM(m)[j];
                if (prune && !((pairs_ok[(int64_t)mi * pwords + (mj >> 6)] >> (mj & 63)) & 1ULL)) {
                    continue;
                }
                int64_t c;
                if (dense) {
                    if (grow_reserve(&bitarena, top + words) < 0) {
                        goto done;
                    }
                    uint64_t *arena = (uint64_t *)bitarena.data;
                    int64_t oi = M_OFF(m)[i], oj = M_OFF(m)[j];
                    c = 0;
                    for (int64_t w = 0; w < words; w++) {
                        uint64_t x = arena[oi + w] & arena[oj + w];
                        arena[top + w] = x;
                        c += popcount64(x);
                    }
                } else if (keep) {
                    int64_t li = M_LEN(m)[i], lj = M_LEN(m)[j];
                    if (grow_reserve(&tids, top + (li < lj ? li : lj)) < 0) {
                        goto done;
                    }
                    c = intersect((int32_t *)tids.data, M_OFF(m)[i], li, M_OFF(m)[j], lj, top);
                } else {
                    c = count_common((const int32_t *)tids.data, M_OFF(m)[i], M_LEN(m)[i],
                                     M_OFF(m)[j], M_LEN(m)[j]);
                }
                if (c < min_count) {
                    continue;
                }
                if (emit(&nodes, M_NODE(m)[i], mj, (int32_t)c) < 0) {
                    goto done;
                }
                if (nodes.n > cap) {
                    overflow = 1;
                    break;
                }
                if (!keep) {
                    continue;
                }
                if (members_reserve(&m, m_top + 1) < 0) {
                    goto done;
                }
                M_ITEM(m)[m_top] = mj;
                M_OFF(m)[m_top] = top;
                M_LEN(m)[m_top] = c;
                M_NODE(m)[m_top] = nodes.n - 1;
                m_top++;
                top += dense ? words : c;
            }
            if (overflow) {
                break;
            }
            if (m_top - child_start >= 2) {
                depth++;
                f_start[depth] = child_start;
                f_end[depth] = m_top;
                f_pos[depth] = child_start;
                f_top[depth] = child_top;
                f_len[depth] = new_len;
            } else {
                m_top = child_start;
                top = child_top;
            }
        }
    }
    if (out_finish(&nodes.parent, nodes.n) < 0 || out_finish(&nodes.item, nodes.n) < 0 ||
        out_finish(&nodes.count, nodes.n) < 0) {
        goto done;
    }
    result = Py_BuildValue("(OOOL)", nodes.parent.obj, nodes.item.obj, nodes.count.obj,
                           (long long)(overflow ? OVERFLOW : nodes.n));
done:
    free(slot_of);
    grow_free(&m.item);
    grow_free(&m.off);
    grow_free(&m.len);
    grow_free(&m.node);
    grow_free(&tids);
    grow_free(&bitarena);
    grow_free(&frames);
    release_arrays(ins, 11);
    out_drop(&nodes.parent);
    out_drop(&nodes.item);
    out_drop(&nodes.count);
    return result;
}

/* ------------------------------------------------------------- level rows */

static PyObject *level_rows(PyObject *self, PyObject *args) {
    PyObject *objs[4];
    if (!PyArg_ParseTuple(args, "OOOO", &objs[0], &objs[1], &objs[2], &objs[3])) {
        return NULL;
    }
    static const Py_ssize_t sizes[] = {8, 4, 4, 4};
    static const char *const names[] = {"parent", "item", "count", "item_of_rank"};
    In ins[4];
    Out flat = {0}, found = {0}, level_sizes = {0};
    int32_t *length = NULL;
    int64_t *next = NULL;
    PyObject *result = NULL;
    if (get_arrays(objs, ins, sizes, names, 4) < 0) {
        goto done;
    }
    const int64_t *parent = IN_PTR(ins[0], int64_t);
    const int32_t *item = IN_PTR(ins[1], int32_t);
    const int32_t *count = IN_PTR(ins[2], int32_t);
    const int32_t *item_of_rank = IN_PTR(ins[3], int32_t);
    int64_t n = IN_LEN(ins[0]);
    length = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (length == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t longest = 0, total = 0;
    for (int64_t i = 0; i < n; i++) {
        /* A node comes after its parent, so the parent's length is known. */
        length[i] = parent[i] < 0 ? 1 : length[parent[i]] + 1;
        if (length[i] > longest) {
            longest = length[i];
        }
        total += length[i];
    }
    if (out_init(&level_sizes, longest + 1, 8) < 0 || out_init(&flat, total, 4) < 0 ||
        out_init(&found, n, 8) < 0) {
        goto done;
    }
    int64_t *level_n = OUT_PTR(level_sizes, int64_t);
    memset(level_n, 0, (size_t)(longest + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        level_n[length[i]]++;
    }
    /* next[L]: the next row of level L, counted over every level (rows of shorter
       itemsets first); its items start at the sum of the lengths before it. */
    next = malloc((size_t)(longest + 1) * 2 * sizeof(int64_t));
    if (next == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *next_item = next + longest + 1;
    int64_t rows = 0, items = 0;
    for (int64_t size = 0; size <= longest; size++) {
        next[size] = rows;
        next_item[size] = items;
        rows += level_n[size];
        items += level_n[size] * size;
    }
    int32_t *out = OUT_PTR(flat, int32_t);
    int64_t *out_count = OUT_PTR(found, int64_t);
    for (int64_t i = 0; i < n; i++) {
        int32_t size = length[i];
        int32_t *row = out + next_item[size];
        out_count[next[size]] = count[i];
        next[size]++;
        next_item[size] += size;
        int64_t node = i;
        for (int32_t p = size - 1; p >= 0; p--) {
            row[p] = item_of_rank[item[node]];
            node = parent[node];
        }
        sort_int32(row, size);
    }
    result = Py_BuildValue("(OOO)", flat.obj, found.obj, level_sizes.obj);
done:
    free(length);
    free(next);
    release_arrays(ins, 4);
    out_drop(&flat);
    out_drop(&found);
    out_drop(&level_sizes);
    return result;
}

static PyObject *level_counts(PyObject *self, PyObject *args) {
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "O", &obj)) {
        return NULL;
    }
    In in;
    Out sizes = {0};
    int32_t *length = NULL;
    PyObject *result = NULL;
    if (in_get(obj, &in, 8, "parent") < 0) {
        goto done;
    }
    const int64_t *parent = IN_PTR(in, int64_t);
    int64_t n = IN_LEN(in);
    length = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (length == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t longest = 0;
    for (int64_t i = 0; i < n; i++) {
        length[i] = parent[i] < 0 ? 1 : length[parent[i]] + 1;
        if (length[i] > longest) {
            longest = length[i];
        }
    }
    if (out_init(&sizes, longest + 1, 8) < 0) {
        goto done;
    }
    int64_t *level_n = OUT_PTR(sizes, int64_t);
    memset(level_n, 0, (size_t)(longest + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        level_n[length[i]]++;
    }
    result = Py_NewRef(sizes.obj);
done:
    free(length);
    in_release(&in);
    out_drop(&sizes);
    return result;
}

static PyMethodDef methods[] = {
    {"project", project, METH_VARARGS, "See xsell.mining.eclat.project."},
    {"count_pairs", count_pairs, METH_VARARGS, "See xsell.mining.eclat.count_pairs."},
    {"pair_bits", pair_bits, METH_VARARGS, "See xsell.mining.eclat.pair_bits."},
    {"tid_bitsets", tid_bitsets, METH_VARARGS, "See xsell.mining.eclat.tid_bitsets."},
    {"mine", mine, METH_VARARGS, "See xsell.mining.eclat.mine."},
    {"level_rows", level_rows, METH_VARARGS, "See xsell.mining.eclat.level_rows."},
    {"level_counts", level_counts, METH_VARARGS, "See xsell.mining.eclat.level_counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_eclat",
    .m_doc = "Compiled kernels of the Eclat itemset miner.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__eclat(void) { return PyModule_Create(&module); }
