/*
 * partsim._kernels: hash every key of an Arrow binary array in one C loop.
 *
 * hash_binary(algorithm, offset_width, offsets, data, out) reads an Arrow offsets buffer
 * (offset_width 4 for int32 or 8 for int64, already sliced to the array: count + 1 entries) and its data buffer, and writes one
 * 32-bit hash per key into `out` (uint32). The GIL is released while hashing, so callers
 * may split an array across threads.
 *
 * Algorithms (the specification is shared/reference/partitioners.md):
 *   0 murmur2                 apache/kafka Utils.murmur2 (= librdkafka src/rdmurmur2.c)
 *   1 crc32                   zlib CRC-32 (librdkafka src/rdcrc32.c, Go crc32.IEEE)
 *   2 fnv1a                   FNV-1a-32 (Go hash/fnv New32a; librdkafka src/rdfnv1a.c)
 *   3 murmur2_kafkajs_legacy  tulios/kafkajs src/producer/partitioners/legacy/murmur2.js
 *
 * Results are the raw 32 bits; Python reinterprets them as signed where the reference is.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MURMUR_M 0x5bd1e995u
#define MURMUR_SEED 0x9747b28cu

static inline uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t murmur2(const uint8_t *key, int64_t len) {
    uint32_t h = MURMUR_SEED ^ (uint32_t)len;
    int64_t full = len & ~(int64_t)3;
    for (int64_t i = 0; i < full; i += 4) {
        uint32_t k = load_le32(key + i);
        k *= MURMUR_M;
        k ^= k >> 24;
        k *= MURMUR_M;
        h *= MURMUR_M;
        h ^= k;
    }
    switch (len & 3) {
    case 3: h ^= (uint32_t)key[full + 2] << 16; /* fall through */
    case 2: h ^= (uint32_t)key[full + 1] << 8;  /* fall through */
    case 1: h ^= (uint32_t)key[full]; h *= MURMUR_M;
    }
    h ^= h >> 13;
    h *= MURMUR_M;
    h ^= h >> 15;
    return h;
}

/* JavaScript's ToInt32 of an integral double whose magnitude is below 2**63. */
static inline int32_t js_int32(double value) {
    return (int32_t)(uint32_t)(uint64_t)(int64_t)value;
}

/* JavaScript's `value * M` for an int32 value: the exact product rounded to a double. */
static inline double js_mul(int32_t value) {
    return (double)value * (double)MURMUR_M;
}

static uint32_t murmur2_kafkajs_legacy(const uint8_t *key, int64_t len) {
    int32_t h = (int32_t)(MURMUR_SEED ^ (uint32_t)len);
    for (int64_t i = 0; i < len; i += 4) { /* runs ceil(len / 4) times */
        uint8_t block[4] = {0, 0, 0, 0};
        int64_t have = len - i < 4 ? len - i : 4;
        memcpy(block, key + i, (size_t)have);
        int32_t sum = (int32_t)(block[0] | (block[1] << 8) | (block[2] << 16));
        double k = (double)sum + (double)(int32_t)((uint32_t)block[3] << 24);
        k = (double)k * (double)MURMUR_M;
        int32_t ki = js_int32(k) ^ (int32_t)((uint32_t)js_int32(k) >> 24);
        k = js_mul(ki);
        h = js_int32(js_mul(h)) ^ js_int32(k);
    }
    double hd = (double)h;
    int64_t full = len & ~(int64_t)3;
    int32_t hi = h;
    int tail = (int)(len & 3);
    if (tail) {
        if (tail >= 3) hi ^= (int32_t)key[full + 2] << 16;
        if (tail >= 2) hi ^= (int32_t)key[full + 1] << 8;
        hi ^= (int32_t)key[full];
        hd = js_mul(hi);
    }
    hi = js_int32(hd);
    hi ^= (int32_t)((uint32_t)hi >> 13);
    hd = js_mul(hi);
    hi = js_int32(hd);
    hi ^= (int32_t)((uint32_t)hi >> 15);
    return (uint32_t)hi;
}

static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (crc & 1 ? 0xedb88320u : 0);
        crc_table[0][byte] = crc;
    }
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = crc_table[0][byte];
        for (int level = 1; level < 8; level++) {
            crc = (crc >> 8) ^ crc_table[0][crc & 0xff];
            crc_table[level][byte] = crc;
        }
    }
}

static uint32_t crc32(const uint8_t *key, int64_t len) {
    uint32_t crc = 0xffffffffu;
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) { /* slicing-by-8 */
        uint32_t one = load_le32(key + i) ^ crc;
        uint32_t two = load_le32(key + i + 4);
        crc = crc_table[7][one & 0xff] ^ crc_table[6][(one >> 8) & 0xff] ^
              crc_table[5][(one >> 16) & 0xff] ^ crc_table[4][one >> 24] ^
              crc_table[3][two & 0xff] ^ crc_table[2][(two >> 8) & 0xff] ^
              crc_table[1][(two >> 16) & 0xff] ^ crc_table[0][two >> 24];
    }
    for (; i < len; i++) crc = crc_table[0][(crc ^ key[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

static uint32_t fnv1a(const uint8_t *key, int64_t len) {
    uint32_t h = 0x811c9dc5u;
    for (int64_t i = 0; i < len; i++) {
        h ^= key[i];
        h *= 0x01000193u;
    }
    return h;
}

typedef uint32_t (*hash_fn)(const uint8_t *, int64_t);
static const hash_fn HASHES[] = {murmur2, crc32, fnv1a, murmur2_kafkajs_legacy};

static PyObject *hash_binary(PyObject *self, PyObject *args) {
    int algorithm;
    Py_ssize_t width;
    Py_buffer offsets, data, out;
    if (!PyArg_ParseTuple(args, "iny*y*w*", &algorithm, &width, &offsets, &data, &out)) return NULL;
    PyObject *result = NULL;
    if (algorithm < 0 || algorithm >= (int)(sizeof(HASHES) / sizeof(HASHES[0])) ||
        (width != 4 && width != 8)) {
        PyErr_SetString(PyExc_ValueError, "unknown algorithm or offset width");
        goto done;
    }
    Py_ssize_t count = offsets.len / width - 1;
    if (count < 0 || out.len < count * 4) {
        PyErr_SetString(PyExc_ValueError, "offsets and out do not match");
        goto done;
    }
    const uint8_t *bytes = (const uint8_t *)data.buf;
    uint32_t *hashes = (uint32_t *)out.buf;
    hash_fn fn = HASHES[algorithm];
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    if (width == 4) {
        const int32_t *off = (const int32_t *)offsets.buf;
        for (Py_ssize_t i = 0; i < count; i++) {
            if (off[i] < 0 || off[i + 1] < off[i] || off[i + 1] > data.len) { bad = 1; break; }
            hashes[i] = fn(bytes + off[i], (int64_t)off[i + 1] - off[i]);
        }
    } else {
        const int64_t *off = (const int64_t *)offsets.buf;
        for (Py_ssize_t i = 0; i < count; i++) {
            if (off[i] < 0 || off[i + 1] < off[i] || off[i + 1] > data.len) { bad = 1; break; }
            hashes[i] = fn(bytes + off[i], off[i + 1] - off[i]);
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "offsets point outside the data buffer");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef METHODS[] = {
    {"hash_binary", hash_binary, METH_VARARGS,
     "hash_binary(algorithm, offset_width, offsets, data, out): hash each key of an Arrow "
     "binary array."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, METHODS};

PyMODINIT_FUNC PyInit__kernels(void) {
    crc_init();
    return PyModule_Create(&MODULE);
}
