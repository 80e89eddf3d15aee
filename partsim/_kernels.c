/*
 * partsim._kernels: loops over Arrow binary arrays that numpy and Arrow have no kernel for.
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
 *
 * KeyTable counts events and sums bytes per distinct key, batch after batch, in one hash
 * table that lives as long as the analysis (partsim.keycounts wraps it):
 *   add(offset_width, offsets, data, validity, validity_offset, weights)
 *     adds one Arrow binary array's keys (validity: its null bitmap, or None) with their
 *     weights (float64), with the GIL released;
 *   export(offsets, data, counts, weights) fills caller-made arrays (int64 offsets with
 *     len + 1 entries, uint8 data of data_size bytes, int64 counts, float64 weights) with
 *     the keys in order of first appearance; null_index is the null key's row, or -1.
 * Its hash (MurmurHash64A) only places keys in the table: partitions never come from it.
 *
 * parse_text reads whole numbers and ISO 8601 times in one strict form each from an Arrow
 * string array, or reports that some value is in another form (then Arrow parses them).
 *
 * prefix_keys(offset_width, offsets, data, validity, validity_offset, prefix, length_mode)
 * returns (offsets, data, wide): a new binary array's buffers, each non-null key written as
 * `prefix`, then its length as a varint (length_mode 1: zigzag, as Avro's bytes and
 * string; 2: plain, as protobuf's length-delimited fields; 0: no length), then its bytes.
 * A null key is empty. The offsets are int32, or int64 when `wide` (past 2 GiB).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
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

/* Entry i of an Arrow offsets buffer of int32 (width 4) or int64 (width 8) entries. */
static inline int64_t offset_at(const void *offsets, Py_ssize_t width, Py_ssize_t i) {
    return width == 4 ? ((const int32_t *)offsets)[i] : ((const int64_t *)offsets)[i];
}

/* Whether the `count` keys' offsets rise from 0 or more and stay within `data_len` bytes. */
static int offsets_valid(const void *offsets, Py_ssize_t width, Py_ssize_t count,
                         Py_ssize_t data_len) {
    int64_t previous = offset_at(offsets, width, 0);
    if (previous < 0) return 0;
    for (Py_ssize_t i = 1; i <= count; i++) {
        int64_t next = offset_at(offsets, width, i);
        if (next < previous) return 0;
        previous = next;
    }
    return previous <= data_len;
}

/* An Arrow string or binary array as the functions below take it, in five arguments:
   offset_width, offsets, data, validity (its null bitmap, or None), validity_offset. */
typedef struct {
    Py_ssize_t width, count, bit_offset;
    Py_buffer offsets, data, validity;
    int has_validity;
} Strings;

/* After PyArg_ParseTuple has filled width, offsets, data and bit_offset: checks them and
   gets the bitmap. 0, or -1 with an error set; strings_release() either way. */
static int strings_open(Strings *s, PyObject *validity) {
    s->has_validity = 0;
    if (s->width != 4 && s->width != 8) {
        PyErr_SetString(PyExc_ValueError, "the offset width must be 4 or 8");
        return -1;
    }
    if (validity != Py_None) {
        if (PyObject_GetBuffer(validity, &s->validity, PyBUF_SIMPLE) < 0) return -1;
        s->has_validity = 1;
    }
    s->count = s->offsets.len / s->width - 1;
    if (s->count < 0 || s->bit_offset < 0 ||
        (s->has_validity && s->validity.len * 8 < s->bit_offset + s->count)) {
        PyErr_SetString(PyExc_ValueError, "the offsets and the validity do not match");
        return -1;
    }
    return 0;
}

static void strings_release(Strings *s) {
    PyBuffer_Release(&s->offsets);
    PyBuffer_Release(&s->data);
    if (s->has_validity) PyBuffer_Release(&s->validity);
}

static inline int strings_null(const Strings *s, Py_ssize_t i) {
    Py_ssize_t bit = s->bit_offset + i;
    return s->has_validity && !((((const uint8_t *)s->validity.buf)[bit >> 3] >> (bit & 7)) & 1);
}

/* None, or NULL with the error of `failed` set (1: bad offsets; 2: out of memory). */
static PyObject *outcome(int failed) {
    if (failed == 1) {
        PyErr_SetString(PyExc_ValueError, "offsets point outside the data buffer");
        return NULL;
    }
    if (failed == 2) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *hash_binary(PyObject *self, PyObject *args) {
    int algorithm;
    Strings keys = {.bit_offset = 0};
    Py_buffer out;
    if (!PyArg_ParseTuple(args, "iny*y*w*", &algorithm, &keys.width, &keys.offsets, &keys.data,
                          &out))
        return NULL;
    PyObject *result = NULL;
    if (strings_open(&keys, Py_None) < 0) goto done;
    if (algorithm < 0 || algorithm >= (int)(sizeof(HASHES) / sizeof(HASHES[0]))) {
        PyErr_SetString(PyExc_ValueError, "unknown algorithm");
        goto done;
    }
    if (out.len < keys.count * 4) {
        PyErr_SetString(PyExc_ValueError, "offsets and out do not match");
        goto done;
    }
    const uint8_t *bytes = (const uint8_t *)keys.data.buf;
    const void *offsets = keys.offsets.buf;
    uint32_t *hashes = (uint32_t *)out.buf;
    hash_fn fn = HASHES[algorithm];
    int valid;
    Py_BEGIN_ALLOW_THREADS
    valid = offsets_valid(offsets, keys.width, keys.count, keys.data.len);
    for (Py_ssize_t i = 0; valid && i < keys.count; i++) {
        int64_t start = offset_at(offsets, keys.width, i);
        hashes[i] = fn(bytes + start, offset_at(offsets, keys.width, i + 1) - start);
    }
    Py_END_ALLOW_THREADS
    result = outcome(valid ? 0 : 1);
done:
    strings_release(&keys);
    PyBuffer_Release(&out);
    return result;
}

/* ---------------------------------------------------------------- text to numbers */

/* Text in the one form each kind takes, else 0 (the caller then parses the column its
   usual, slower way, so these decide nothing but speed):
     0  digits only, 1 to 15 of them (exact as doubles): the number, as a double;
     1  YYYY-MM-DD[T ]hh:mm:ss[.f (1 to 9 digits)][Z], years 1678 to 2261 (inside int64
        nanoseconds), a real date and time: nanoseconds since the epoch, the time taken
        as UTC (with or without the Z). */
static inline int digits(const uint8_t *p, int n, int64_t *value) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *value = v;
    return 1;
}

static int parse_count(const uint8_t *p, int64_t len, double *out) {
    int64_t v;
    if (len < 1 || len > 15 || !digits(p, (int)len, &v)) return 0;
    *out = (double)v;
    return 1;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) { /* H. Hinnant's */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The minute a time's first 16 bytes (YYYY-MM-DD hh:mm) name, in ns since the epoch; 0
   if they do not name one. Times in a column mostly share their minute with the one
   before: parse_iso_time remembers the last (cache), and parses only what follows. */
typedef struct {
    uint8_t text[16];
    int64_t minute_ns;
    int valid;
} MinuteCache;

static int parse_minute(const uint8_t *p, int64_t *minute_ns) {
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t year, month, day, hour, minute;
    if (p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ') || p[13] != ':' ||
        !digits(p, 4, &year) || !digits(p + 5, 2, &month) || !digits(p + 8, 2, &day) ||
        !digits(p + 11, 2, &hour) || !digits(p + 14, 2, &minute))
        return 0;
    if (year < 1678 || year > 2261 || month < 1 || month > 12 || hour > 23 || minute > 59)
        return 0;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day < 1 || day > month_days[month - 1] + (month == 2 && leap)) return 0;
    *minute_ns = (days_from_civil(year, month, day) * 1440 + hour * 60 + minute) * 60000000000LL;
    return 1;
}

static int parse_iso_time(const uint8_t *p, int64_t len, int64_t *out, MinuteCache *cache) {
    int64_t second, fraction = 0;
    if (len < 19 || p[16] != ':' || !digits(p + 17, 2, &second) || second > 59) return 0;
    if (!cache->valid || memcmp(cache->text, p, 16) != 0) {
        cache->valid = parse_minute(p, &cache->minute_ns);
        if (!cache->valid) return 0;
        memcpy(cache->text, p, 16);
    }
    int64_t at = 19;
    if (at < len && p[at] == '.') {
        int64_t first = ++at;
        while (at < len && at - first < 10 && p[at] >= '0' && p[at] <= '9') at++;
        int64_t count = at - first;
        if (count < 1 || count > 9 || !digits(p + first, (int)count, &fraction)) return 0;
        static const int64_t scale[] = {1, 100000000, 10000000, 1000000, 100000, 10000, 1000,
                                        100, 10, 1};
        fraction *= scale[count];
    }
    if (at < len && p[at] == 'Z') at++;
    if (at != len) return 0;
    *out = cache->minute_ns + second * 1000000000LL + fraction;
    return 1;
}

/* parse_text(kind, offset_width, offsets, data, validity, validity_offset, out): parse
   every value of an Arrow string array into `out` (float64 for kind 0, int64 for kind 1;
   a null gives NaN or INT64_MIN). True when every value had the kind's form; False at
   the first that has not (`out` is then incomplete). */
static PyObject *parse_text(PyObject *self, PyObject *args) {
    int kind;
    Strings text;
    Py_buffer out;
    PyObject *validity;
    if (!PyArg_ParseTuple(args, "iny*y*Onw*", &kind, &text.width, &text.offsets, &text.data,
                          &validity, &text.bit_offset, &out))
        return NULL;
    PyObject *result = NULL;
    if (strings_open(&text, validity) < 0) goto done;
    if ((kind != 0 && kind != 1) || out.len != text.count * 8) {
        PyErr_SetString(PyExc_ValueError, "parse_text: unknown kind, or out does not fit");
        goto done;
    }
    const uint8_t *bytes = (const uint8_t *)text.data.buf;
    int ok;
    MinuteCache cache = {.valid = 0};
    Py_BEGIN_ALLOW_THREADS
    ok = offsets_valid(text.offsets.buf, text.width, text.count, text.data.len);
    for (Py_ssize_t i = 0; ok && i < text.count; i++) {
        int present = !strings_null(&text, i);
        int64_t start = offset_at(text.offsets.buf, text.width, i);
        int64_t len = offset_at(text.offsets.buf, text.width, i + 1) - start;
        if (kind == 0) {
            double *values = (double *)out.buf;
            if (present) ok = parse_count(bytes + start, len, &values[i]);
            else values[i] = Py_NAN;
        } else {
            int64_t *values = (int64_t *)out.buf;
            if (present) ok = parse_iso_time(bytes + start, len, &values[i], &cache);
            else values[i] = INT64_MIN;
        }
    }
    Py_END_ALLOW_THREADS
    result = PyBool_FromLong(ok);
done:
    strings_release(&text);
    PyBuffer_Release(&out);
    return result;
}

/* ------------------------------------------------------------- length-prefixed keys */

static inline int put_varint(uint8_t *out, uint64_t value) {
    int n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

static PyObject *prefix_keys(PyObject *self, PyObject *args) {
    Strings keys;
    PyObject *validity;
    Py_buffer prefix;
    int mode;
    if (!PyArg_ParseTuple(args, "ny*y*Ony*i", &keys.width, &keys.offsets, &keys.data,
                          &validity, &keys.bit_offset, &prefix, &mode))
        return NULL;
    PyObject *result = NULL, *out_offsets = NULL, *out_data = NULL;
    if (strings_open(&keys, validity) < 0) goto done;
    if (mode < 0 || mode > 2) {
        PyErr_SetString(PyExc_ValueError, "prefix_keys: unknown length mode");
        goto done;
    }
    if (!offsets_valid(keys.offsets.buf, keys.width, keys.count, keys.data.len)) {
        outcome(1);
        goto done;
    }
    /* Pass 1: the output's size. */
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < keys.count; i++) {
        if (strings_null(&keys, i)) continue;
        int64_t len = offset_at(keys.offsets.buf, keys.width, i + 1) -
                      offset_at(keys.offsets.buf, keys.width, i);
        uint64_t length = mode == 1 ? (uint64_t)len << 1 : (uint64_t)len;
        int head = 1;
        while (mode && length >= 0x80) { length >>= 7; head++; }
        total += prefix.len + (mode ? head : 0) + len;
    }
    int wide = total > INT32_MAX;
    out_offsets = PyBytes_FromStringAndSize(NULL, (keys.count + 1) * (wide ? 8 : 4));
    out_data = PyBytes_FromStringAndSize(NULL, total);
    if (out_offsets == NULL || out_data == NULL) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(out_data);
    void *to = PyBytes_AS_STRING(out_offsets);
    const uint8_t *bytes = (const uint8_t *)keys.data.buf;
    /* Pass 2: prefix, length, bytes. */
    Py_BEGIN_ALLOW_THREADS
    int64_t at = 0;
    for (Py_ssize_t i = 0; i < keys.count; i++) {
        if (wide) ((int64_t *)to)[i] = at; else ((int32_t *)to)[i] = (int32_t)at;
        if (strings_null(&keys, i)) continue;
        int64_t start = offset_at(keys.offsets.buf, keys.width, i);
        int64_t len = offset_at(keys.offsets.buf, keys.width, i + 1) - start;
        memcpy(out + at, prefix.buf, prefix.len);
        at += prefix.len;
        if (mode) at += put_varint(out + at, mode == 1 ? (uint64_t)len << 1 : (uint64_t)len);
        memcpy(out + at, bytes + start, len);
        at += len;
    }
    if (wide) ((int64_t *)to)[keys.count] = at; else ((int32_t *)to)[keys.count] = (int32_t)at;
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OOi)", out_offsets, out_data, wide);
done:
    Py_XDECREF(out_offsets);
    Py_XDECREF(out_data);
    strings_release(&keys);
    PyBuffer_Release(&prefix);
    return result;
}

/* Each row's two keys as one: a flags byte (1: the first is null, 2: the second is), the
   first key's length (4 bytes, big-endian), the first key's bytes, the second's. */
static PyObject *pair_keys(PyObject *self, PyObject *args) {
    Strings a, b;
    PyObject *a_validity, *b_validity;
    if (!PyArg_ParseTuple(args, "ny*y*Onny*y*On", &a.width, &a.offsets, &a.data, &a_validity,
                          &a.bit_offset, &b.width, &b.offsets, &b.data, &b_validity,
                          &b.bit_offset))
        return NULL;
    PyObject *result = NULL, *out_offsets = NULL, *out_data = NULL;
    a.has_validity = b.has_validity = 0;
    int opened = strings_open(&a, a_validity) == 0 && strings_open(&b, b_validity) == 0;
    if (!opened) goto done;
    if (a.count != b.count) {
        PyErr_SetString(PyExc_ValueError, "pair_keys: the two arrays differ in length");
        goto done;
    }
    if (!offsets_valid(a.offsets.buf, a.width, a.count, a.data.len) ||
        !offsets_valid(b.offsets.buf, b.width, b.count, b.data.len)) {
        outcome(1);
        goto done;
    }
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < a.count; i++) {
        total += 5;
        if (!strings_null(&a, i)) {
            int64_t len = offset_at(a.offsets.buf, a.width, i + 1) -
                          offset_at(a.offsets.buf, a.width, i);
            if (len > (int64_t)UINT32_MAX) {
                PyErr_SetString(PyExc_ValueError, "pair_keys: a key of 4 GiB or more");
                goto done;
            }
            total += len;
        }
        if (!strings_null(&b, i))
            total += offset_at(b.offsets.buf, b.width, i + 1) - offset_at(b.offsets.buf, b.width, i);
    }
    int wide = total > INT32_MAX;
    out_offsets = PyBytes_FromStringAndSize(NULL, (a.count + 1) * (wide ? 8 : 4));
    if (out_offsets == NULL) goto done;
    out_data = PyBytes_FromStringAndSize(NULL, total);
    if (out_data == NULL) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(out_data);
    void *to = PyBytes_AS_STRING(out_offsets);
    const uint8_t *a_bytes = (const uint8_t *)a.data.buf, *b_bytes = (const uint8_t *)b.data.buf;
    Py_BEGIN_ALLOW_THREADS
    int64_t at = 0;
    for (Py_ssize_t i = 0; i < a.count; i++) {
        if (wide) ((int64_t *)to)[i] = at; else ((int32_t *)to)[i] = (int32_t)at;
        int a_null = strings_null(&a, i), b_null = strings_null(&b, i);
        int64_t a_start = offset_at(a.offsets.buf, a.width, i);
        int64_t a_len = a_null ? 0 : offset_at(a.offsets.buf, a.width, i + 1) - a_start;
        int64_t b_start = offset_at(b.offsets.buf, b.width, i);
        int64_t b_len = b_null ? 0 : offset_at(b.offsets.buf, b.width, i + 1) - b_start;
        out[at] = (uint8_t)(a_null | (b_null << 1));
        out[at + 1] = (uint8_t)(a_len >> 24);
        out[at + 2] = (uint8_t)(a_len >> 16);
        out[at + 3] = (uint8_t)(a_len >> 8);
        out[at + 4] = (uint8_t)a_len;
        at += 5;
        memcpy(out + at, a_bytes + a_start, a_len);
        at += a_len;
        memcpy(out + at, b_bytes + b_start, b_len);
        at += b_len;
    }
    if (wide) ((int64_t *)to)[a.count] = at; else ((int32_t *)to)[a.count] = (int32_t)at;
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OOi)", out_offsets, out_data, wide);
done:
    Py_XDECREF(out_offsets);
    Py_XDECREF(out_data);
    strings_release(&a);
    strings_release(&b);
    return result;
}

/* pair_keys taken apart: (first's offsets, data, second's offsets, data, flags), int64
   offsets; a null pair has both keys null (flags 3). */
static PyObject *split_pairs(PyObject *self, PyObject *args) {
    Strings pairs;
    PyObject *validity;
    if (!PyArg_ParseTuple(args, "ny*y*On", &pairs.width, &pairs.offsets, &pairs.data, &validity,
                          &pairs.bit_offset))
        return NULL;
    PyObject *result = NULL, *outs[5] = {NULL, NULL, NULL, NULL, NULL};
    pairs.has_validity = 0;
    if (strings_open(&pairs, validity) < 0) goto done;
    if (!offsets_valid(pairs.offsets.buf, pairs.width, pairs.count, pairs.data.len)) {
        outcome(1);
        goto done;
    }
    const uint8_t *bytes = (const uint8_t *)pairs.data.buf;
    int64_t first_total = 0, second_total = 0;
    for (Py_ssize_t i = 0; i < pairs.count; i++) {
        if (strings_null(&pairs, i)) continue;
        int64_t start = offset_at(pairs.offsets.buf, pairs.width, i);
        int64_t len = offset_at(pairs.offsets.buf, pairs.width, i + 1) - start;
        const uint8_t *p = bytes + start;
        int64_t first = len < 5 ? -1 : ((int64_t)p[1] << 24 | (int64_t)p[2] << 16 |
                                         (int64_t)p[3] << 8 | (int64_t)p[4]);
        if (first < 0 || first > len - 5) {
            PyErr_SetString(PyExc_ValueError, "split_pairs: a value is not a pair of keys");
            goto done;
        }
        first_total += first;
        second_total += len - 5 - first;
    }
    const Py_ssize_t sizes[5] = {(pairs.count + 1) * 8, first_total, (pairs.count + 1) * 8,
                                 second_total, pairs.count};
    for (int k = 0; k < 5; k++) {
        outs[k] = PyBytes_FromStringAndSize(NULL, sizes[k]);
        if (outs[k] == NULL) goto done;
    }
    int64_t *first_offsets = (int64_t *)PyBytes_AS_STRING(outs[0]);
    int64_t *second_offsets = (int64_t *)PyBytes_AS_STRING(outs[2]);
    uint8_t *first_data = (uint8_t *)PyBytes_AS_STRING(outs[1]);
    uint8_t *second_data = (uint8_t *)PyBytes_AS_STRING(outs[3]);
    uint8_t *flags = (uint8_t *)PyBytes_AS_STRING(outs[4]);
    Py_BEGIN_ALLOW_THREADS
    int64_t a = 0, b = 0;
    for (Py_ssize_t i = 0; i < pairs.count; i++) {
        first_offsets[i] = a;
        second_offsets[i] = b;
        if (strings_null(&pairs, i)) {
            flags[i] = 3;
            continue;
        }
        int64_t start = offset_at(pairs.offsets.buf, pairs.width, i);
        int64_t len = offset_at(pairs.offsets.buf, pairs.width, i + 1) - start;
        const uint8_t *p = bytes + start;
        int64_t first = (int64_t)p[1] << 24 | (int64_t)p[2] << 16 | (int64_t)p[3] << 8 | p[4];
        flags[i] = p[0];
        memcpy(first_data + a, p + 5, first);
        a += first;
        memcpy(second_data + b, p + 5 + first, len - 5 - first);
        b += len - 5 - first;
    }
    first_offsets[pairs.count] = a;
    second_offsets[pairs.count] = b;
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OOOOO)", outs[0], outs[1], outs[2], outs[3], outs[4]);
done:
    for (int k = 0; k < 5; k++) Py_XDECREF(outs[k]);
    strings_release(&pairs);
    return result;
}

/* ------------------------------------------------------------------------ KeyTable */

static uint64_t table_hash(const uint8_t *key, int64_t len) {  /* MurmurHash64A, seed 0 */
    const uint64_t m = 0xc6a4a7935bd1e995ull;
    uint64_t h = (uint64_t)len * m;
    int64_t full = len & ~(int64_t)7;
    for (int64_t i = 0; i < full; i += 8) {
        uint64_t k;
        memcpy(&k, key + i, 8);
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
    }
    uint64_t tail = 0;
    switch (len & 7) {
    case 7: tail ^= (uint64_t)key[full + 6] << 48; /* fall through */
    case 6: tail ^= (uint64_t)key[full + 5] << 40; /* fall through */
    case 5: tail ^= (uint64_t)key[full + 4] << 32; /* fall through */
    case 4: tail ^= (uint64_t)key[full + 3] << 24; /* fall through */
    case 3: tail ^= (uint64_t)key[full + 2] << 16; /* fall through */
    case 2: tail ^= (uint64_t)key[full + 1] << 8;  /* fall through */
    case 1: tail ^= (uint64_t)key[full]; h ^= tail; h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return h;
}

typedef struct {
    uint32_t tag;   /* the key hash's low 32 bits */
    uint32_t entry; /* 1 + the entry's number; 0 marks an empty slot */
} Slot;

typedef struct { /* 32 bytes: one key's place in the arena and its sums */
    int64_t start, len, count;
    double weight;
} Entry;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    uint64_t mask;  /* slots - 1 (a power of two) */
    Entry *entries; /* in order of first appearance; their keys follow one another */
    int64_t len, capacity;
    uint8_t *arena;
    int64_t arena_len, arena_capacity;
    int64_t null_index;
    int busy; /* an add() runs, without the GIL: other calls must not touch the table */
} KeyTable;

#define MAX_ENTRIES 0xfffffffeLL
#define STEP 8  /* rows between the prefetches of one lookup's slot, entry and key bytes */
#define RING 32 /* at least 3 * STEP + 1 rows of hashes in flight */

static int grow(void **buffer, int64_t *capacity, int64_t needed, size_t item) {
    if (needed <= *capacity) return 0;
    int64_t wanted = *capacity ? *capacity : 1024;
    while (wanted < needed) wanted *= 2;
    void *bigger = PyMem_RawRealloc(*buffer, (size_t)wanted * item);
    if (bigger == NULL) return -1;
    *buffer = bigger;
    *capacity = wanted;
    return 0;
}

/* Doubles (or more) the slots. While the slots number at most 2**32, a slot's tag (the
   hash's low 32 bits) gives its place in the new slots, so no key is read or hashed again;
   taken in the old slots' order, the new places come almost in order too. */
static int rehash(KeyTable *t, uint64_t slot_count) {
    Slot *slots = PyMem_RawCalloc((size_t)slot_count, sizeof(Slot));
    if (slots == NULL) return -1;
    uint64_t mask = slot_count - 1;
    if (slot_count <= ((uint64_t)1 << 32)) {
        for (uint64_t old = 0; old <= t->mask; old++) {
            Slot slot = t->slots[old];
            if (!slot.entry) continue;
            uint64_t at = slot.tag & mask;
            while (slots[at].entry) at = (at + 1) & mask;
            slots[at] = slot;
        }
    } else {
        for (int64_t e = 0; e < t->len; e++) {
            if (e == t->null_index) continue;
            uint64_t hash = table_hash(t->arena + t->entries[e].start, t->entries[e].len);
            uint64_t at = hash & mask;
            while (slots[at].entry) at = (at + 1) & mask;
            slots[at].tag = (uint32_t)hash;
            slots[at].entry = (uint32_t)(e + 1);
        }
    }
    PyMem_RawFree(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

/* The entry of a new key (its bytes copied into the arena); -1 when memory runs out. */
static int64_t new_entry(KeyTable *t, const uint8_t *key, int64_t len) {
    if (t->len >= MAX_ENTRIES) return -1;
    void *entries = t->entries, *arena = t->arena;
    int failed = grow(&entries, &t->capacity, t->len + 1, sizeof(Entry)) < 0 ||
                 grow(&arena, &t->arena_capacity, t->arena_len + len, 1) < 0;
    t->entries = entries;
    t->arena = arena;
    if (failed) return -1;
    if (len) memcpy(t->arena + t->arena_len, key, (size_t)len);
    int64_t e = t->len++;
    t->entries[e] = (Entry){t->arena_len, len, 0, 0.0};
    t->arena_len += len;
    return e;
}

static int64_t find_or_add(KeyTable *t, const uint8_t *key, int64_t len, uint64_t hash) {
    uint32_t tag = (uint32_t)hash;
    uint64_t at = hash & t->mask;
    for (;;) {
        uint32_t entry = t->slots[at].entry;
        if (!entry) break;
        if (t->slots[at].tag == tag) {
            const Entry *found = &t->entries[entry - 1];
            if (found->len == len &&
                (len == 0 || memcmp(t->arena + found->start, key, (size_t)len) == 0))
                return (int64_t)entry - 1;
        }
        at = (at + 1) & t->mask;
    }
    int64_t e = new_entry(t, key, len);
    if (e < 0) return -1;
    t->slots[at].tag = tag;
    t->slots[at].entry = (uint32_t)(e + 1);
    if ((uint64_t)t->len * 2 > t->mask + 1 && rehash(t, (t->mask + 1) * 2) < 0) return -1;
    return e;
}

static int64_t null_entry(KeyTable *t) {
    if (t->null_index < 0) {
        /* An empty key in the arena, found by its index, never by a slot. */
        int64_t e = new_entry(t, NULL, 0);
        if (e < 0) return -1;
        t->null_index = e;
    }
    return t->null_index;
}

static int KeyTable_init(KeyTable *t, PyObject *args, PyObject *kwds) {
    if (!PyArg_ParseTuple(args, ":KeyTable")) return -1;
    if (t->slots == NULL) {
        t->slots = PyMem_RawCalloc(1024, sizeof(Slot));
        if (t->slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        t->mask = 1023;
        t->null_index = -1;
    }
    return 0;
}

static void KeyTable_dealloc(KeyTable *t) {
    PyMem_RawFree(t->slots);
    PyMem_RawFree(t->entries);
    PyMem_RawFree(t->arena);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyObject *KeyTable_add(KeyTable *t, PyObject *args) {
    Strings keys;
    Py_buffer weights, ids = {.buf = NULL};
    PyObject *validity, *ids_object = Py_None;
    if (!PyArg_ParseTuple(args, "ny*y*Ony*|O", &keys.width, &keys.offsets, &keys.data, &validity,
                          &keys.bit_offset, &weights, &ids_object))
        return NULL;
    PyObject *result = NULL;
    if (ids_object != Py_None &&
        PyObject_GetBuffer(ids_object, &ids, PyBUF_WRITABLE | PyBUF_SIMPLE) < 0) {
        ids.buf = NULL;
        strings_release(&keys);
        PyBuffer_Release(&weights);
        return NULL;
    }
    int64_t *entry_of = (int64_t *)ids.buf; /* each row's entry, when asked */
    if (strings_open(&keys, validity) < 0) goto done;
    if (entry_of != NULL && ids.len != keys.count * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "the keys and the ids do not match");
        goto done;
    }
    if (t->slots == NULL) {
        PyErr_SetString(PyExc_ValueError, "KeyTable is not initialized");
        goto done;
    }
    if (weights.len != keys.count * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "the keys and the weights do not match");
        goto done;
    }
    if (t->busy) { /* checked and set with the GIL held: no two threads pass together */
        PyErr_SetString(PyExc_RuntimeError, "KeyTable is in use by another thread");
        goto done;
    }
    t->busy = 1;
    const uint8_t *bytes = (const uint8_t *)keys.data.buf;
    const void *offsets = keys.offsets.buf;
    const Py_ssize_t width = keys.width, count = keys.count;
    const double *w = (const double *)weights.buf;
    int failed = 0; /* 1: bad offsets, 2: out of memory */
    Py_BEGIN_ALLOW_THREADS
    if (!offsets_valid(offsets, width, count, keys.data.len)) failed = 1;
    /* A table bigger than the cache would cost a memory latency per lookup, three times in
       turn (slot, entry, key bytes). Instead row i's hash is computed 3 * STEP rows early
       and its slot prefetched; its entry is prefetched 2 * STEP rows early, when the slot
       has come into the cache, and its key bytes STEP rows early. */
    struct { int64_t start, len; uint64_t hash; } ring[RING]; /* row i at i % RING */
    for (Py_ssize_t i = -3 * STEP; !failed && i < count; i++) {
        Py_ssize_t next = i + 3 * STEP;
        if (next < count) {
            int64_t start = offset_at(offsets, width, next);
            int64_t len = offset_at(offsets, width, next + 1) - start;
            uint64_t hash = table_hash(bytes + start, len);
            ring[next % RING].start = start;
            ring[next % RING].len = len;
            ring[next % RING].hash = hash;
            __builtin_prefetch(&t->slots[hash & t->mask]);
        }
        Py_ssize_t middle = i + 2 * STEP;
        if (middle >= 0 && middle < count) {
            uint32_t entry = t->slots[ring[middle % RING].hash & t->mask].entry;
            if (entry) __builtin_prefetch(&t->entries[entry - 1]);
        }
        Py_ssize_t soon = i + STEP;
        if (soon >= 0 && soon < count) {
            uint32_t entry = t->slots[ring[soon % RING].hash & t->mask].entry;
            if (entry) __builtin_prefetch(t->arena + t->entries[entry - 1].start);
        }
        if (i < 0) continue;
        int64_t e;
        if (strings_null(&keys, i)) {
            e = null_entry(t);
        } else {
            const int64_t at = i % RING;
            e = find_or_add(t, bytes + ring[at].start, ring[at].len, ring[at].hash);
        }
        if (e < 0) { failed = 2; break; }
        t->entries[e].count += 1;
        t->entries[e].weight += w[i];
        if (entry_of != NULL) entry_of[i] = e;
    }
    Py_END_ALLOW_THREADS
    t->busy = 0;
    result = outcome(failed);
done:
    strings_release(&keys);
    PyBuffer_Release(&weights);
    if (ids.buf != NULL) PyBuffer_Release(&ids);
    return result;
}

static PyObject *KeyTable_export(KeyTable *t, PyObject *args) {
    Py_buffer offsets, data, counts, weights;
    if (!PyArg_ParseTuple(args, "w*w*w*w*", &offsets, &data, &counts, &weights)) return NULL;
    PyObject *result = NULL;
    if (t->busy) {
        PyErr_SetString(PyExc_RuntimeError, "KeyTable is in use by another thread");
        goto done;
    }
    if (offsets.len != (t->len + 1) * 8 || data.len != t->arena_len || counts.len != t->len * 8 ||
        weights.len != t->len * 8) {
        PyErr_SetString(PyExc_ValueError, "the arrays do not fit the table");
        goto done;
    }
    int64_t *out = (int64_t *)offsets.buf, *count_out = (int64_t *)counts.buf;
    double *weight_out = (double *)weights.buf;
    out[0] = 0;
    for (int64_t e = 0; e < t->len; e++) {
        out[e + 1] = t->entries[e].start + t->entries[e].len;
        count_out[e] = t->entries[e].count;
        weight_out[e] = t->entries[e].weight;
    }
    if (t->arena_len) memcpy(data.buf, t->arena, (size_t)t->arena_len);
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&counts);
    PyBuffer_Release(&weights);
    return result;
}

static Py_ssize_t KeyTable_length(KeyTable *t) { return (Py_ssize_t)t->len; }

static PyObject *KeyTable_data_size(KeyTable *t, void *closure) {
    return PyLong_FromLongLong(t->arena_len);
}

static PyObject *KeyTable_null_index(KeyTable *t, void *closure) {
    return PyLong_FromLongLong(t->null_index);
}

static PyObject *KeyTable_memory(KeyTable *t, void *closure) {
    return PyLong_FromLongLong((long long)((t->mask + 1) * sizeof(Slot) + t->capacity * sizeof(Entry) +
                                           t->arena_capacity));
}

static PyMethodDef KEYTABLE_METHODS[] = {
    {"add", (PyCFunction)KeyTable_add, METH_VARARGS,
     "add(offset_width, offsets, data, validity, validity_offset, weights[, ids]): count "
     "keys (and write each row's entry number into ids, an int64 buffer)."},
    {"export", (PyCFunction)KeyTable_export, METH_VARARGS,
     "export(offsets, data, counts, weights): fill the arrays with the table."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef KEYTABLE_GETSET[] = {
    {"data_size", (getter)KeyTable_data_size, NULL, "bytes of all distinct keys", NULL},
    {"null_index", (getter)KeyTable_null_index, NULL, "the null key's entry, or -1", NULL},
    {"memory", (getter)KeyTable_memory, NULL, "bytes allocated", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods KEYTABLE_SEQUENCE = {.sq_length = (lenfunc)KeyTable_length};

static PyTypeObject KeyTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "partsim._kernels.KeyTable",
    .tp_doc = "Events and bytes per distinct key (see the module's comment).",
    .tp_basicsize = sizeof(KeyTable),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)KeyTable_init,
    .tp_dealloc = (destructor)KeyTable_dealloc,
    .tp_methods = KEYTABLE_METHODS,
    .tp_getset = KEYTABLE_GETSET,
    .tp_as_sequence = &KEYTABLE_SEQUENCE,
};

/* ------------------------------------------------------------------ placement */

/* Partitions from raw 32-bit hashes under a sign rule: 0 mask (& 0x7fffffff), 1 abs (of the
   signed value), 2 unsigned; each then modulo the partition count. */
static PyObject *reduce_hashes(PyObject *self, PyObject *args) {
    Py_buffer hashes, out;
    int rule;
    long long count;
    if (!PyArg_ParseTuple(args, "y*iLw*", &hashes, &rule, &count, &out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = hashes.len / 4;
    if (out.len != n * 4 || count < 1 || count > 0x7fffffffLL || rule < 0 || rule > 2) {
        PyErr_SetString(PyExc_ValueError, "reduce_hashes: bad arguments");
        goto done;
    }
    const uint32_t *h = (const uint32_t *)hashes.buf;
    int32_t *p = (int32_t *)out.buf;
    const uint32_t modulus = (uint32_t)count;
    Py_BEGIN_ALLOW_THREADS
    if (rule == 0) {
        for (Py_ssize_t i = 0; i < n; i++) p[i] = (int32_t)((h[i] & 0x7fffffffu) % modulus);
    } else if (rule == 1) {
        for (Py_ssize_t i = 0; i < n; i++) {
            int64_t v = (int32_t)h[i];
            p[i] = (int32_t)((v < 0 ? -v : v) % (int64_t)modulus);
        }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) p[i] = (int32_t)(h[i] % modulus);
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&hashes);
    PyBuffer_Release(&out);
    return result;
}

/* Messages and summed weights per cell, in row order (as numpy's bincount sums them), added
   into `messages` (int64) and `sums` (double). A row's cell is its partition (`partitions`,
   int32) in row `windows[i] - first` (int64) of a grid `width` partitions wide; with
   `windows` None, the partition itself. Rows where `skip` (uint8, or None) is 1 are left
   out. */
static PyObject *tally(PyObject *self, PyObject *args) {
    Py_buffer windows = {.buf = NULL}, partitions, weights, messages, sums, skip = {.buf = NULL};
    PyObject *windows_object, *skip_object;
    long long first, width;
    if (!PyArg_ParseTuple(args, "OLLy*y*Ow*w*", &windows_object, &first, &width, &partitions,
                          &weights, &skip_object, &messages, &sums))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = partitions.len / 4, cells = messages.len / 8;
    if (windows_object != Py_None &&
        PyObject_GetBuffer(windows_object, &windows, PyBUF_SIMPLE) < 0) {
        windows.buf = NULL;
        goto done;
    }
    if (skip_object != Py_None && PyObject_GetBuffer(skip_object, &skip, PyBUF_SIMPLE) < 0) {
        skip.buf = NULL;
        goto done;
    }
    if (weights.len != n * 8 || sums.len != cells * 8 || width < 1 ||
        (windows.buf && windows.len != n * 8) || (skip.buf && skip.len != n)) {
        PyErr_SetString(PyExc_ValueError, "tally: the arrays do not match");
        goto done;
    }
    const int64_t *w = (const int64_t *)windows.buf;
    const int32_t *p = (const int32_t *)partitions.buf;
    const double *v = (const double *)weights.buf;
    const uint8_t *s = (const uint8_t *)skip.buf;
    int64_t *m = (int64_t *)messages.buf;
    double *b = (double *)sums.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s && s[i]) continue;
        int64_t at = w ? (w[i] - first) * width + p[i] : p[i];
        if (p[i] < 0 || p[i] >= width || at < 0 || at >= cells) { bad = 1; break; }
        m[at] += 1;
        b[at] += v[i];
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "tally: a cell outside the table");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    if (windows.buf) PyBuffer_Release(&windows);
    PyBuffer_Release(&partitions);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&messages);
    PyBuffer_Release(&sums);
    if (skip.buf) PyBuffer_Release(&skip);
    return result;
}

/* Steps of the consumer-lag queue (partsim.lag.simulate_lag), in the same arithmetic as its
   numpy loop: each step adds the step's arrivals (none when `arrivals` is None) to
   `backlog` (float64, one per partition, updated in place); each consumer serves its
   partitions' backlog whole when it fits in `budget`, else `budget` split in proportion to
   it; what is left below 1e-9 becomes 0. Partition p belongs to consumer owner[p] (int64;
   -1: nobody's). Each step's backlog and served amounts go to row i of `out_backlog` and
   `out_served` (rows x partitions). Without arrivals (the drain) it stops after the first
   row that leaves no owned backlog. Returns the rows written. */
static PyObject *lag_steps(PyObject *self, PyObject *args) {
    Py_buffer arrivals = {.buf = NULL}, owner, backlog, out_backlog, out_served;
    PyObject *arrivals_object;
    long long rows, consumers;
    double budget;
    if (!PyArg_ParseTuple(args, "OLy*Ldw*w*w*", &arrivals_object, &rows, &owner, &consumers,
                          &budget, &backlog, &out_backlog, &out_served))
        return NULL;
    PyObject *result = NULL;
    double *waiting = NULL;
    Py_ssize_t parts = backlog.len / 8;
    if (arrivals_object != Py_None &&
        PyObject_GetBuffer(arrivals_object, &arrivals, PyBUF_SIMPLE) < 0) {
        arrivals.buf = NULL;
        goto done;
    }
    if (rows < 0 || consumers < 1 || owner.len != parts * 8 ||
        out_backlog.len < rows * parts * 8 || out_served.len < rows * parts * 8 ||
        (arrivals.buf && arrivals.len < rows * parts * 8)) {
        PyErr_SetString(PyExc_ValueError, "lag_steps: the arrays do not match");
        goto done;
    }
    const int64_t *own = (const int64_t *)owner.buf;
    for (Py_ssize_t p = 0; p < parts; p++) {
        if (own[p] >= consumers) {
            PyErr_SetString(PyExc_ValueError, "lag_steps: an owner outside the consumers");
            goto done;
        }
    }
    waiting = PyMem_RawMalloc((size_t)consumers * sizeof(double));
    if (waiting == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const double *in = (const double *)arrivals.buf;
    double *b = (double *)backlog.buf;
    double *rows_backlog = (double *)out_backlog.buf, *rows_served = (double *)out_served.buf;
    long long done_rows = 0;
    Py_BEGIN_ALLOW_THREADS
    for (long long i = 0; i < rows; i++) {
        if (in) {
            for (Py_ssize_t p = 0; p < parts; p++) b[p] = b[p] + in[i * parts + p];
        }
        for (long long c = 0; c < consumers; c++) waiting[c] = 0.0;
        for (Py_ssize_t p = 0; p < parts; p++) {
            if (own[p] >= 0) waiting[own[p]] += b[p];
        }
        int left = 0;
        for (Py_ssize_t p = 0; p < parts; p++) {
            double served = 0.0;
            if (own[p] >= 0) {
                double w = waiting[own[p]];
                double share = w > budget ? budget / w : 1.0;
                served = b[p] * share;
            }
            double rest = b[p] - served;
            if (fabs(rest) < 1e-9) rest = 0.0;
            b[p] = rest;
            rows_backlog[i * parts + p] = rest;
            rows_served[i * parts + p] = served;
            if (own[p] >= 0 && rest != 0.0) left = 1;
        }
        done_rows = i + 1;
        if (!in && !left) break;
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromLongLong(done_rows);
done:
    PyMem_RawFree(waiting);
    if (arrivals.buf) PyBuffer_Release(&arrivals);
    PyBuffer_Release(&owner);
    PyBuffer_Release(&backlog);
    PyBuffer_Release(&out_backlog);
    PyBuffer_Release(&out_served);
    return result;
}

/* Per-entity ordering under one placement, row by row: for each row whose entity number
   (`ids`, int64) is 0 or more, a keyless row (`keyless`, uint8) adds one to the entity's
   keyless events; a hashed row's partition becomes the entity's first partition when it has
   none (-1), sets `spread` when it differs from it, and sets bit (partition % 64) of the
   entity's `mask` (uint64). */
static PyObject *order_update(PyObject *self, PyObject *args) {
    Py_buffer ids, partitions, keyless, first, mask, spread, keyless_events;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*w*w*", &ids, &partitions, &keyless, &first, &mask,
                          &spread, &keyless_events))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = ids.len / 8, entities = first.len / 4;
    if (partitions.len != n * 4 || keyless.len != n || mask.len != entities * 8 ||
        spread.len != entities || keyless_events.len != entities * 8) {
        PyErr_SetString(PyExc_ValueError, "order_update: the arrays do not match");
        goto done;
    }
    const int64_t *id = (const int64_t *)ids.buf;
    const int32_t *p = (const int32_t *)partitions.buf;
    const uint8_t *k = (const uint8_t *)keyless.buf;
    int32_t *f = (int32_t *)first.buf;
    uint64_t *m = (uint64_t *)mask.buf;
    uint8_t *sp = (uint8_t *)spread.buf;
    int64_t *ke = (int64_t *)keyless_events.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t e = id[i];
        if (e < 0) continue;
        if (e >= entities) { bad = 1; break; }
        if (k[i]) { ke[e] += 1; continue; }
        int32_t at = p[i];
        if (f[e] < 0) f[e] = at;
        else if (f[e] != at) sp[e] = 1;
        m[e] |= (uint64_t)1 << (at & 63);
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "order_update: an entity outside the table");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&ids);
    PyBuffer_Release(&partitions);
    PyBuffer_Release(&keyless);
    PyBuffer_Release(&first);
    PyBuffer_Release(&mask);
    PyBuffer_Release(&spread);
    PyBuffer_Release(&keyless_events);
    return result;
}

static PyMethodDef METHODS[] = {
    {"reduce_hashes", reduce_hashes, METH_VARARGS,
     "reduce_hashes(hashes, rule, partition_count, out): partitions from uint32 hashes "
     "(rule 0 mask, 1 abs, 2 unsigned)."},
    {"lag_steps", lag_steps, METH_VARARGS,
     "lag_steps(arrivals, rows, owner, consumers, budget, backlog, out_backlog, out_served): "
     "steps of the consumer-lag queue; the rows written."},
    {"tally", tally, METH_VARARGS,
     "tally(windows, first, width, partitions, weights, skip, messages, sums): add rows to "
     "per-partition counts, or (with windows) to a window x partition grid."},
    {"order_update", order_update, METH_VARARGS,
     "order_update(ids, partitions, keyless, first, mask, spread, keyless_events): "
     "per-entity ordering state, row by row."},
    {"hash_binary", hash_binary, METH_VARARGS,
     "hash_binary(algorithm, offset_width, offsets, data, out): hash each key of an Arrow "
     "binary array."},
    {"parse_text", parse_text, METH_VARARGS,
     "parse_text(kind, offset_width, offsets, data, validity, validity_offset, out): "
     "counts (0) or ISO times (1) from an Arrow string array, if all are in that form."},
    {"pair_keys", pair_keys, METH_VARARGS,
     "pair_keys(first's offset_width, offsets, data, validity, validity_offset, then the "
     "second's): (offsets, data, wide), each row's keys as one (flags, first's length)."},
    {"split_pairs", split_pairs, METH_VARARGS,
     "split_pairs(offset_width, offsets, data, validity, validity_offset): pair_keys taken "
     "apart, (first offsets, first data, second offsets, second data, flags)."},
    {"prefix_keys", prefix_keys, METH_VARARGS,
     "prefix_keys(offset_width, offsets, data, validity, validity_offset, prefix, "
     "length_mode): (offsets, data, wide), each key as prefix + its length + its bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, METHODS};

PyMODINIT_FUNC PyInit__kernels(void) {
    crc_init();
    if (PyType_Ready(&KeyTableType) < 0) return NULL;
    PyObject *module = PyModule_Create(&MODULE);
    if (module == NULL) return NULL;
    Py_INCREF(&KeyTableType);
    if (PyModule_AddObject(module, "KeyTable", (PyObject *)&KeyTableType) < 0) {
        Py_DECREF(&KeyTableType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
