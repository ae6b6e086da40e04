"""Redis's RDB format (version 10, as written by Redis 7.0): writer and reader.

Writer
    ``RdbWriter`` produces a whole file (header, aux fields, SELECTDB +
    RESIZEDB per database, key/value pairs with EXPIRETIME_MS, EOF and the
    CRC-64 checksum) through a ``write(bytes)`` callable, in chunks.  Values
    get the encodings Redis 7.0 itself would choose for them: int-encoded and
    LZF-compressed strings, listpacks for small hashes and sorted sets,
    intsets for small integer sets, quicklist (listpack nodes) for lists,
    the plain forms (RDB_TYPE_HASH, RDB_TYPE_SET, RDB_TYPE_ZSET_2) for
    big collections, and RDB_TYPE_STREAM_LISTPACKS_2 for streams (listpack
    nodes along the stream's node model, else laid out as XADD fills them
    under stream-node-max-bytes/-entries; deleted entries are not kept, so
    no tombstones).  ``dump_payload`` is the DUMP serialisation (one value
    + RDB version + CRC-64), byte-identical to Redis's for values whose
    encoding is determined by their content (streams: without tombstones).

Reader
    ``RdbParser`` reads every encoding Redis 7.0 (and older versions) write:
    strings (raw, int 8/16/32, LZF), lists (plain, ziplist, quicklist with
    ziplist nodes, quicklist 2 with listpack and plain nodes), sets (plain,
    intset, listpack from 7.2), hashes (plain, zipmap, ziplist, listpack),
    sorted sets (plain with text scores, ZSET_2 with binary scores, ziplist,
    listpack), streams (STREAM_LISTPACKS of 5.0-6.2 and STREAM_LISTPACKS_2
    of 7.0, with their consumer groups and the node layout as the stream's
    node model).  Module values, module aux data and 7.2's
    STREAM_LISTPACKS_3 are refused with an ``RdbError`` naming the type.
    Every error carries the byte offset where it was found.  The parser
    works on any buffer that slices to bytes (``bytes`` for DUMP payloads,
    ``mmap`` for files).
"""
import math
import struct
import time
from collections import deque

from . import lzf
from .compact import PACKED_TYPES, canonical_int, expand
from .acyclic import untrack_value
from sortedcontainers import SortedDict

from .crc64 import crc64
from .stream import Stream, ConsumerGroup, Consumer, PendingEntry, MAX_ID, U64
try:
    from .stream import StreamNode      # the node model, when stream.py keeps one
except ImportError:
    StreamNode = None
from .zset import ZSet

RDB_VERSION = 10
MAX_READ_VERSION = 11          # 7.2's files load as long as no unknown type appears

# Opcodes.
OP_FUNCTION2 = 245
OP_FUNCTION = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

# Value types.
T_STRING = 0
T_LIST = 1
T_SET = 2
T_ZSET = 3
T_HASH = 4
T_ZSET_2 = 5
T_MODULE = 6
T_MODULE_2 = 7
T_HASH_ZIPMAP = 9
T_LIST_ZIPLIST = 10
T_SET_INTSET = 11
T_ZSET_ZIPLIST = 12
T_HASH_ZIPLIST = 13
T_LIST_QUICKLIST = 14
T_STREAM_LISTPACKS = 15
T_HASH_LISTPACK = 16
T_ZSET_LISTPACK = 17
T_LIST_QUICKLIST_2 = 18
T_STREAM_LISTPACKS_2 = 19
T_SET_LISTPACK = 20
T_STREAM_LISTPACKS_3 = 21

TYPE_NAMES = {
    T_STRING: "string", T_LIST: "list", T_SET: "set", T_ZSET: "zset", T_HASH: "hash",
    T_ZSET_2: "zset", T_MODULE: "module", T_MODULE_2: "module", T_HASH_ZIPMAP: "hash (zipmap)",
    T_LIST_ZIPLIST: "list (ziplist)", T_SET_INTSET: "set (intset)",
    T_ZSET_ZIPLIST: "zset (ziplist)", T_HASH_ZIPLIST: "hash (ziplist)",
    T_LIST_QUICKLIST: "list (quicklist)", T_STREAM_LISTPACKS: "stream",
    T_HASH_LISTPACK: "hash (listpack)", T_ZSET_LISTPACK: "zset (listpack)",
    T_LIST_QUICKLIST_2: "list (quicklist)", T_STREAM_LISTPACKS_2: "stream",
    T_SET_LISTPACK: "set (listpack)", T_STREAM_LISTPACKS_3: "stream",
}

QUICKLIST_PLAIN = 1
QUICKLIST_PACKED = 2

# Redis 7.0's defaults for the settings that choose compact encodings.
DEFAULT_LIMITS = {
    "hash-max-listpack-entries": 128, "hash-max-listpack-value": 64,
    "zset-max-listpack-entries": 128, "zset-max-listpack-value": 64,
    "set-max-intset-entries": 512, "list-max-listpack-size": -2,
    "stream-node-max-bytes": 4096, "stream-node-max-entries": 100,
}
STREAM_LISTPACK_MAX_SIZE = 1 << 30     # t_stream.c: the cap on stream-node-max-bytes
STREAM_FLAG_DELETED = 1
STREAM_FLAG_SAMEFIELDS = 2
_I64_MIN = -(1 << 63)
_pack_ms = struct.Struct("<q").pack
_LIST_SIZE_LEVELS = (4096, 8192, 16384, 32768, 65536)
_LIST_SAFETY_LIMIT = 8192
_PLAIN_THRESHOLD = 1 << 30

_pack_q = struct.Struct("<q").pack
_pack_d = struct.Struct("<d").pack
_unpack_d = struct.Struct("<d").unpack_from
_LEN1 = [bytes((i,)) for i in range(64)]


class RdbError(ValueError):
    """A file or payload that cannot be loaded; ``offset`` is the byte
    position (from the start of the buffer) where the problem was found."""

    def __init__(self, message, offset=None):
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self):
        if self.offset is None:
            return self.message
        return "%s (at byte offset %d)" % (self.message, self.offset)


class RdbTruncated(RdbError):
    """The buffer ends before the data does: with a ``refill`` (a payload
    read from a socket) the parser gets more bytes and resumes."""


class UnsupportedValue(ValueError):
    """A keyspace value of a type the RDB writer does not know."""




def d2string(score):
    """Redis 7.0's d2string: the text a score has inside a listpack."""
    if score != score:
        return b"nan"
    if score == math.inf:
        return b"inf"
    if score == -math.inf:
        return b"-inf"
    if score == 0:
        return b"-0" if math.copysign(1.0, score) < 0 else b"0"
    if -4503599627370495.0 < score < 4503599627370496.0 and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


# -- encoding primitives -------------------------------------------------------
def encode_length(n):
    if n < 64:
        return _LEN1[n]
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def _encode_int(v):
    """Int-encoded string (0xC0 | width) or None when it needs > 32 bits."""
    if -128 <= v <= 127:
        return b"\xc0" + (v & 0xFF).to_bytes(1, "little")
    if -32768 <= v <= 32767:
        return b"\xc1" + (v & 0xFFFF).to_bytes(2, "little")
    if -2147483648 <= v <= 2147483647:
        return b"\xc2" + (v & 0xFFFFFFFF).to_bytes(4, "little")
    return None


def encode_string(s, compress=True):
    """rdbSaveRawString: int encoding for short canonical integers, LZF for
    strings over 20 bytes that shrink by 4+ bytes, else length + bytes."""
    n = len(s)
    if n <= 11 and n:
        v = canonical_int(s)
        if v is not None:
            enc = _encode_int(v)
            if enc is not None:
                return enc
    elif compress and n > 20:
        c = lzf.compress(s, n - 4)
        if c is not None:
            return b"\xc3" + encode_length(len(c)) + encode_length(n) + c
    if n < 64:
        return _LEN1[n] + s
    return encode_length(n) + s


def encode_int_value(v):
    """A string value held as a Python int."""
    enc = _encode_int(v)
    if enc is not None:
        return enc
    s = b"%d" % v
    return _LEN1[len(s)] + s


# -- listpack / intset ------------------------------------------------------------
def _lp_backlen(l):
    if l <= 127:
        return _LEN1[l] if l < 64 else bytes((l,))
    if l < 16383:
        return bytes((l >> 7, (l & 127) | 128))
    if l < 2097151:
        return bytes((l >> 14, ((l >> 7) & 127) | 128, (l & 127) | 128))
    if l < 268435455:
        return bytes((l >> 21, ((l >> 14) & 127) | 128, ((l >> 7) & 127) | 128, (l & 127) | 128))
    return bytes((l >> 28, ((l >> 21) & 127) | 128, ((l >> 14) & 127) | 128,
                  ((l >> 7) & 127) | 128, (l & 127) | 128))


def lp_entry(s):
    """One listpack entry (encoding + data + backlen) for the string ``s``,
    integer-encoded when it is a canonical int64 (as lpAppend does)."""
    v = canonical_int(s) if len(s) <= 20 else None
    if v is not None:
        return lp_int(v)
    n = len(s)
    if n < 64:
        return bytes((0x80 | n,)) + s + _lp_backlen(n + 1)
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + s + _lp_backlen(n + 2)
    return b"\xf0" + n.to_bytes(4, "little") + s + _lp_backlen(n + 5)


_LP_SMALL_INTS = [bytes((v, 1)) for v in range(128)]


def lp_int(v):
    """One listpack entry for the int64 ``v`` (lpAppendInteger)."""
    if 0 <= v <= 127:
        return _LP_SMALL_INTS[v]
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + (v & 0xFFFF).to_bytes(2, "little") + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + (v & 0xFFFFFFFF).to_bytes(4, "little") + b"\x05"
    return b"\xf4" + (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little") + b"\x09"


def listpack(entries_bytes, count):
    """A listpack blob from already encoded entries."""
    total = 6 + len(entries_bytes) + 1
    return (total.to_bytes(4, "little") + min(count, 65535).to_bytes(2, "little")
            + entries_bytes + b"\xff")


def intset(values):
    """An intset blob (sorted, smallest common width)."""
    values = sorted(values)
    lo, hi = values[0], values[-1]
    if -32768 <= lo and hi <= 32767:
        width = 2
    elif -2147483648 <= lo and hi <= 2147483647:
        width = 4
    else:
        width = 8
    mask = (1 << (8 * width)) - 1
    body = b"".join((v & mask).to_bytes(width, "little") for v in values)
    return width.to_bytes(4, "little") + len(values).to_bytes(4, "little") + body


# -- values -------------------------------------------------------------------------
class Encoder:
    """Serialises values (type byte + payload) the way Redis 7.0 does."""

    def __init__(self, compress=True, limits=None):
        self.compress = compress
        lim = dict(DEFAULT_LIMITS)
        if limits:
            lim.update(limits)
        self.hash_entries = lim["hash-max-listpack-entries"]
        self.hash_value = lim["hash-max-listpack-value"]
        self.intset_entries = lim["set-max-intset-entries"]
        fill = lim["list-max-listpack-size"]
        self.list_fill = fill
        self.list_size_limit = (_LIST_SIZE_LEVELS[-fill - 1]
                                if fill < 0 and -fill - 1 < len(_LIST_SIZE_LEVELS) else None)
        node_bytes = lim["stream-node-max-bytes"]
        if node_bytes <= 0 or node_bytes > STREAM_LISTPACK_MAX_SIZE:
            node_bytes = STREAM_LISTPACK_MAX_SIZE
        self.stream_node_bytes = node_bytes
        self.stream_node_entries = max(lim["stream-node-max-entries"], 0)

    def string(self, s):
        return encode_string(s, self.compress)

    def value(self, value):
        """(type byte, payload bytes) for one keyspace value."""
        t = type(value)
        if t is bytes:
            return T_STRING, encode_string(value, self.compress)
        if t is int:
            return T_STRING, encode_int_value(value)
        if t is dict:
            return self._hash(value)
        if t is deque:
            return T_LIST_QUICKLIST_2, self._list(value)
        if t is set:
            return self._set(value)
        if t is ZSet:
            return self._zset(value)
        if t is Stream:
            return T_STREAM_LISTPACKS_2, self._stream(value)
        if t in PACKED_TYPES:
            return self.value(expand(value))
        if isinstance(value, (bytes, bytearray)):
            return T_STRING, encode_string(bytes(value), self.compress)
        raise UnsupportedValue("cannot save a value of type %s in an RDB file"
                               % type(value).__name__)

    def _hash(self, h):
        n = len(h)
        if n <= self.hash_entries:
            limit = self.hash_value
            small = True
            for f, v in h.items():
                if len(f) > limit or len(v) > limit:
                    small = False
                    break
            if small:
                body = b"".join([lp_entry(x) for fv in h.items() for x in fv])
                return T_HASH_LISTPACK, self.string(listpack(body, 2 * n))
        out = [encode_length(n)]
        enc = self.string
        for f, v in h.items():
            out.append(enc(f))
            out.append(enc(v))
        return T_HASH, b"".join(out)

    def _set(self, s):
        n = len(s)
        if n <= self.intset_entries:
            ints = []
            for m in s:
                v = canonical_int(m)
                if v is None:
                    ints = None
                    break
                ints.append(v)
            if ints:
                return T_SET_INTSET, self.string(intset(ints))
        out = [encode_length(n)]
        enc = self.string
        for m in s:
            out.append(enc(m))
        return T_SET, b"".join(out)

    def _zset(self, z):
        n = len(z)
        if not z.skiplist:      # (its encoding, kept as Redis keeps it: storage/zset.py)
            parts = []
            for m, score in z.items():
                parts.append(lp_entry(m))
                parts.append(lp_entry(d2string(score)))
            return T_ZSET_LISTPACK, self.string(listpack(b"".join(parts), 2 * n))
        # Redis writes the skiplist from the greatest element to the smallest.
        out = [encode_length(n)]
        enc = self.string
        for m, score in z.items_desc():
            out.append(enc(m))
            out.append(_pack_d(score))
        return T_ZSET_2, b"".join(out)

    def _list(self, lst):
        """Quicklist 2: listpack nodes filled as RPUSH fills them (size
        limit from list-max-listpack-size), plain nodes for huge elements."""
        nodes = []
        cur = []
        cur_sz = 7          # empty listpack: header + end byte
        cur_n = 0
        size_limit = self.list_size_limit
        fill = self.list_fill
        enc = self.string
        for item in lst:
            sz = len(item)
            if sz >= _PLAIN_THRESHOLD:
                if cur:
                    nodes.append(enc(listpack(b"".join(cur), cur_n)))
                    cur, cur_sz, cur_n = [], 7, 0
                nodes.append(None)
                nodes.append(item)
                continue
            if cur:
                new_sz = cur_sz + sz + 8     # Redis's SIZE_ESTIMATE_OVERHEAD
                if size_limit is not None:
                    allowed = new_sz <= size_limit
                else:
                    allowed = new_sz <= _LIST_SAFETY_LIMIT and cur_n < fill
                if not allowed:
                    nodes.append(enc(listpack(b"".join(cur), cur_n)))
                    cur, cur_sz, cur_n = [], 7, 0
            e = lp_entry(item)
            cur.append(e)
            cur_sz += len(e)
            cur_n += 1
        if cur:
            nodes.append(enc(listpack(b"".join(cur), cur_n)))
        out = []
        count = 0
        it = iter(nodes)
        for node in it:
            count += 1
            if node is None:            # a plain node follows
                out.append(b"\x01")
                out.append(enc(next(it)))
            else:
                out.append(b"\x02")
                out.append(node)
        return encode_length(count) + b"".join(out)

    # -- streams ----------------------------------------------------------------
    def stream_nodes(self, s):
        """[(master ID, listpack blob)]: the stream's entries in the listpack
        nodes of its node model (storage/stream.py: where successive XADDs
        put them, as streamAppendItem does, or the nodes a loaded file had),
        with stream-node-max-bytes/-entries of these limits when the model
        is rebuilt.  A master entry lists the node's field names; entries
        with the same names carry only values.  The deleted entries'
        contents are not kept, so a node's tombstones are written as empty
        deleted entries: the last one at the node's last ID when that entry
        was deleted (Redis's trimming reads it), the others at the master ID
        (the first entry Redis put in the node)."""
        entries = s.entries
        layout = [(n.master_id, n.fields, n.deleted, n.last_id)
                  for n in s.node_list(self.stream_node_entries, self.stream_node_bytes)]
        nodes = []
        master = None
        parts = []
        count = 0
        elements = 0
        master_fields = ()
        nf = 0
        tail = None         # the trailing tombstone of the current node
        deleted = 0
        j = 0
        n_layout = len(layout)

        def close():
            body = parts
            n_el = elements + 1
            if tail is not None:
                body = body + tail
                n_el += len(tail)
            nodes.append((master, listpack(lp_int(count) + b"".join(body), n_el)))

        for eid, fv in entries.items():
            boundary = None
            while j < n_layout and layout[j][0] <= eid:
                boundary = layout[j]
                j += 1
            if boundary is not None and master is not None:
                close()
                master = None
            if master is None:
                master, master_fields, deleted, last = boundary
                master_fields = tuple(master_fields)
                tail = (_tombstone(last, master)
                        if deleted and last not in entries and last > master else None)
                nf = len(master_fields)
                parts = [lp_int(deleted), lp_int(nf)]
                parts.extend(lp_entry(f) for f in master_fields)
                parts.append(lp_int(0))
                elements = nf + 3            # + the count, added at the end
                head = deleted - (tail is not None)
                if head > 0:
                    parts.extend(_tombstone(master, master) * head)
                    elements += 5 * head
                count = 0
            ms_diff = (eid >> 64) - (master >> 64)
            seq_diff = (eid & U64) - (master & U64)
            if ms_diff >= 1 << 63:
                ms_diff -= 1 << 64           # as int64 (C's unsigned difference)
            seq_diff = ((seq_diff - _I64_MIN) & U64) + _I64_MIN
            n = len(fv) >> 1
            if fv[0::2] == master_fields:
                entry = [lp_int(STREAM_FLAG_SAMEFIELDS), lp_int(ms_diff), lp_int(seq_diff)]
                entry.extend(lp_entry(v) for v in fv[1::2])
                entry.append(lp_int(n + 3))
            else:
                entry = [lp_int(0), lp_int(ms_diff), lp_int(seq_diff), lp_int(n)]
                entry.extend(lp_entry(x) for x in fv)
                entry.append(lp_int(2 * n + 4))
            elements += len(entry)
            parts.extend(entry)
            count += 1
        if master is not None:
            close()
        return nodes

    def _stream(self, s):
        """rdbSaveObject's stream: the nodes (16-byte big-endian master ID,
        listpack), length, last/first/max-deleted IDs, entries added, then
        every consumer group with its PEL and consumers (in name order, as
        Redis's radix trees list them)."""
        enc = self.string
        nodes = self.stream_nodes(s)
        out = [encode_length(len(nodes))]
        for master, lp in nodes:
            out.append(b"\x10" + master.to_bytes(16, "big"))
            out.append(enc(lp))
        out.append(encode_length(len(s.entries)))
        for i in (s.last_id, s.first_id, s.max_deleted_id):
            out.append(encode_length(i >> 64))
            out.append(encode_length(i & U64))
        out.append(encode_length(s.entries_added))
        groups = s.groups
        out.append(encode_length(len(groups)))
        for name in sorted(groups):
            g = groups[name]
            out.append(enc(name))
            out.append(encode_length(g.last_id >> 64))
            out.append(encode_length(g.last_id & U64))
            out.append(encode_length(g.entries_read & U64))     # -1 as UINT64_MAX
            out.append(encode_length(len(g.pel)))
            for eid, pe in g.pel.items():
                out.append(eid.to_bytes(16, "big"))
                out.append(_pack_ms(pe.delivery_time))
                out.append(encode_length(pe.delivery_count))
            consumers = g.consumers
            out.append(encode_length(len(consumers)))
            for cname in sorted(consumers):
                c = consumers[cname]
                out.append(enc(cname))
                out.append(_pack_ms(c.seen_time))
                out.append(encode_length(len(c.pel)))
                out.extend(eid.to_bytes(16, "big") for eid in c.pel)
        return b"".join(out)


def _tombstone(eid, master):
    """The listpack elements of a deleted stream entry with no fields
    (flags, ID deltas from ``master``, 0 fields, lp-count 4)."""
    ms_diff = ((eid >> 64) - (master >> 64)) & U64
    seq_diff = ((eid & U64) - (master & U64)) & U64
    if ms_diff >> 63:
        ms_diff -= 1 << 64
    if seq_diff >> 63:
        seq_diff -= 1 << 64
    return [lp_int(STREAM_FLAG_DELETED), lp_int(ms_diff), lp_int(seq_diff), lp_int(0), lp_int(4)]


def dump_payload(value, compress=True, limits=None):
    """DUMP's serialisation: type, value, RDB version (2 bytes LE), CRC-64."""
    t, body = Encoder(compress, limits).value(value)
    data = bytes((t,)) + body + RDB_VERSION.to_bytes(2, "little")
    return data + crc64(data).to_bytes(8, "little")


def verify_payload(payload):
    """DUMP payload footer check (version not newer than ours, checksum)."""
    if len(payload) < 10:
        return False
    footer = payload[-10:]
    version = footer[0] | (footer[1] << 8)
    if version > RDB_VERSION:
        return False
    return crc64(payload[:-8]) == int.from_bytes(footer[2:], "little")


def load_payload(payload):
    """The value a DUMP payload holds (after ``verify_payload``)."""
    p = RdbParser(payload, end=len(payload) - 10, name="DUMP payload")
    t = p.u8()
    value = p.read_object(t, key=b"")
    if p.p != len(payload) - 10:
        raise RdbError("trailing bytes in the payload", p.p)
    return value


# -- whole files ----------------------------------------------------------------------
class RdbWriter:
    """Writes an RDB stream through ``write(bytes)``, computing the CRC-64
    on the way.  ``keys_written`` counts key/value pairs (progress)."""

    FLUSH_AT = 1 << 20

    def __init__(self, write, compress=True, checksum=True, limits=None, key_delay=None):
        self._write = write
        self.encoder = Encoder(compress, limits)
        self.checksum = checksum
        self.crc = 0
        self.buf = bytearray()
        self.bytes_written = 0
        self.keys_written = 0
        self.key_delay = key_delay       # fn() called after each key (tests: rdb-key-save-delay)
        self.progress = None             # fn(keys written so far), at each flush (INFO of a child)

    def _flush(self):
        buf = self.buf
        if buf:
            data = bytes(buf)
            if self.checksum:
                self.crc = crc64(data, self.crc)
            self._write(data)
            self.bytes_written += len(data)
            buf.clear()

    def header(self, aux):
        self.buf += b"REDIS%04d" % RDB_VERSION
        for k, v in aux:
            self.aux(k, v)

    def aux(self, key, value):
        buf = self.buf
        buf.append(OP_AUX)
        buf += encode_string(key if isinstance(key, bytes) else key.encode(), False)
        if isinstance(value, int):
            value = b"%d" % value
        elif not isinstance(value, bytes):
            value = str(value).encode()
        buf += encode_string(value, self.encoder.compress)

    def function(self, code):
        self.buf.append(OP_FUNCTION2)
        self.buf += self.encoder.string(code)

    def database(self, dbid, data, expires):
        """SELECTDB, RESIZEDB and every key of one database."""
        if not data:
            return
        buf = self.buf
        buf.append(OP_SELECTDB)
        buf += encode_length(dbid)
        buf.append(OP_RESIZEDB)
        buf += encode_length(len(data))
        buf += encode_length(len(expires))
        comp = self.encoder.compress
        value_of = self.encoder.value
        delay = self.key_delay
        flush_at = self.FLUSH_AT
        progress = self.progress
        n = 0
        for key, value in data.items():
            if expires:
                when = expires.get(key)
                if when is not None:
                    buf.append(OP_EXPIRETIME_MS)
                    buf += _pack_q(when)
            t = type(value)
            if t is bytes:
                buf.append(T_STRING)
                lk = len(key)
                if lk <= 20 and not (lk <= 11 and lk and (48 <= key[0] <= 57 or key[0] == 45)):
                    buf += _LEN1[lk]
                    buf += key
                else:
                    buf += encode_string(key, comp)
                buf += encode_string(value, comp)
            else:
                vt, body = value_of(value)
                buf.append(vt)
                buf += encode_string(key, comp)
                buf += body
            n += 1
            if len(buf) >= flush_at:
                self._flush()
                if progress is not None:
                    progress(self.keys_written + n)
            elif progress is not None and not n & 1023:    # (Redis: every 1024 keys)
                progress(self.keys_written + n)
            if delay is not None:
                delay()
        self.keys_written += n
        if self.progress is not None:
            self.progress(self.keys_written)

    def finish(self):
        """EOF opcode and checksum (0 when checksums are off)."""
        self.buf.append(OP_EOF)
        self._flush()
        tail = (self.crc if self.checksum else 0).to_bytes(8, "little")
        self._write(tail)
        self.bytes_written += 8


def aux_fields(used_mem=0, aof_base=False, extra=()):
    """The aux fields Redis 7.0 writes, in its order."""
    fields = [("redis-ver", "7.0.15"), ("redis-bits", 64), ("ctime", int(time.time())),
              ("used-mem", int(used_mem))]
    fields.extend(extra)
    fields.append(("aof-base", 1 if aof_base else 0))
    return fields


def write_keyspace(writer, keyspace, aux, functions=(), data=True):
    """A whole RDB stream of ``keyspace`` through ``writer`` (without its
    databases when ``data`` is false: a replica's rdb-filter-only)."""
    writer.header(aux)
    for code in functions:
        writer.function(code)
    if data:
        for db in keyspace.dbs:
            writer.database(db.id, db.data, db.expires)
    writer.finish()


# -- reading ------------------------------------------------------------------------------
class RdbParser:
    """Reads RDB data from a buffer ``d`` (bytes or mmap) from ``start``.

    Streaming (a payload loaded as it arrives from a socket): ``refill(parser,
    at)`` is called when the buffer runs out; it replaces ``d`` with a new
    window holding the bytes from ``at`` on plus more (``p`` = where ``at``
    went, ``n`` its end, ``base`` the payload offset of its first byte) and
    returns True, or False when the payload has no more bytes.  The parser
    resumes at the start of the record it was reading (``at``), so only
    the current record is held; the checksum runs over the dropped bytes."""

    def __init__(self, d, start=0, end=None, name="RDB file", refill=None):
        self.d = d
        self.p = start
        self.start = start
        self.n = len(d) if end is None else end
        self.name = name
        self.version = RDB_VERSION
        self.refill = refill
        self.base = 0                 # payload offset of d[0] (streaming)
        self.crc = 0                  # checksum of the bytes dropped (streaming)
        self._verify = True

    def _more(self, at):
        """Streaming: get more bytes, resuming at ``at``; False at the end."""
        if self.refill is None:
            return False
        if self._verify:
            self.crc = crc64(memoryview(self.d)[self.start:at], self.crc)
        self.start = at
        if not self.refill(self, at):
            return False
        self.start = self.p
        return True

    # primitives
    def error(self, message, offset=None):
        return RdbError(message, self.p if offset is None else offset)

    def take(self, k):
        p = self.p
        e = p + k
        if e > self.n:
            raise RdbTruncated("Unexpected end of file (needed %d bytes)" % k, p)
        self.p = e
        return self.d[p:e]

    def u8(self):
        p = self.p
        if p >= self.n:
            raise RdbTruncated("Unexpected end of file", p)
        self.p = p + 1
        return self.d[p]

    def length(self):
        """(value, is_encoded)."""
        b = self.u8()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.u8(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise RdbError("Unknown length encoding %d in rdbLoadLen()" % b, self.p - 1)

    def _small_length(self):
        d = self.d
        p = self.p
        if p + 1 < self.n:
            b = d[p]
            if b < 64:
                self.p = p + 1
                return b
            if b < 128:
                self.p = p + 2
                return ((b & 0x3F) << 8) | d[p + 1]
        return self.plain_length()

    def plain_length(self):
        at = self.p
        n, enc = self.length()
        if enc:
            raise RdbError("Unexpected encoded length", at)
        return n

    def string(self):
        """A string as bytes (int-encoded ones as their decimal text)."""
        d = self.d
        p = self.p
        if p < self.n:
            b = d[p]
            if b < 64:
                e = p + 1 + b
                if e > self.n:
                    raise RdbTruncated("Unexpected end of file reading a string", p)
                self.p = e
                return d[p + 1:e]
        at = p
        if p < self.n and d[p] == 0xC3:
            self.p = p + 1
            clen = self._small_length()
            ulen = self._small_length()
            if ulen > clen * 300 + 64:          # more than LZF can expand: corrupt
                raise RdbError("Invalid LZF compressed string lengths", at)
            data = self.take(clen)
            try:
                return lzf.decompress(data, ulen)
            except lzf.LZFError:
                raise RdbError("Invalid LZF compressed string", at) from None
        n, enc = self.length()
        if not enc:
            return self.take(n)
        if n == 0:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == 3:
            clen = self.plain_length()
            ulen = self.plain_length()
            if ulen > clen * 300 + 64:
                raise RdbError("Invalid LZF compressed string lengths", at)
            data = self.take(clen)
            try:
                return lzf.decompress(data, ulen)
            except lzf.LZFError:
                raise RdbError("Invalid LZF compressed string", at) from None
        raise RdbError("Unknown RDB string encoding type %d" % n, at)

    def string_value(self):
        """A top-level string value: int-encoded strings become ints."""
        d = self.d
        p = self.p
        if p < self.n:
            b = d[p]
            if 0xC0 <= b <= 0xC2:
                w = 1 << (b - 0xC0)
                if p + 1 + w > self.n:
                    raise RdbTruncated("Unexpected end of file reading an integer", p)
                self.p = p + 1 + w
                return int.from_bytes(d[p + 1:p + 1 + w], "little", signed=True)
        return self.string()

    def binary_double(self):
        return _unpack_d(self.take(8))[0]

    def text_double(self):
        at = self.p
        n = self.u8()
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        try:
            return float(self.take(n))
        except ValueError:
            raise RdbError("Invalid double value", at) from None

    # objects
    def read_object(self, t, key, type_at=None):
        at = self.p
        if type_at is None:
            type_at = at - 1
        if t == T_STRING:
            return self.string_value()
        if t == T_LIST:
            n = self.plain_length()
            return deque(self.string() for _ in range(n))
        if t == T_SET:
            n = self.plain_length()
            s = set()
            for _ in range(n):
                m = self.string()
                if m in s:
                    raise RdbError("Duplicate set members detected", at)
                s.add(m)
            return s
        if t == T_ZSET or t == T_ZSET_2:
            n = self.plain_length()
            z = ZSet()
            rd = self.binary_double if t == T_ZSET_2 else self.text_double
            for _ in range(n):
                m = self.string()
                score = rd()
                if score != score:
                    raise RdbError("Zset with NAN score detected", at)
                if m in z:
                    raise RdbError("Duplicate zset fields detected", at)
                z.add(m, score)
            return z
        if t == T_HASH:
            n = self.plain_length()
            h = {}
            for _ in range(n):
                f = self.string()
                v = self.string()
                if f in h:
                    raise RdbError("Duplicate hash fields detected", at)
                h[f] = v
            return h
        if t == T_SET_INTSET:
            return set(_intset_items(self.string(), at))
        if t == T_LIST_ZIPLIST:
            return deque(_ziplist_items(self.string(), at))
        if t == T_HASH_ZIPLIST or t == T_HASH_LISTPACK:
            blob = self.string()
            items = _ziplist_items(blob, at) if t == T_HASH_ZIPLIST else _listpack_items(blob, at)
            return _pairs_to_hash(items, at)
        if t == T_ZSET_ZIPLIST or t == T_ZSET_LISTPACK:
            blob = self.string()
            items = _ziplist_items(blob, at) if t == T_ZSET_ZIPLIST else _listpack_items(blob, at)
            return _pairs_to_zset(items, at)
        if t == T_SET_LISTPACK:
            s = set()
            for m in _listpack_items(self.string(), at):
                if m in s:
                    raise RdbError("Duplicate set members detected", at)
                s.add(m)
            return s
        if t == T_HASH_ZIPMAP:
            return _pairs_to_hash(_zipmap_items(self.string(), at), at)
        if t == T_LIST_QUICKLIST or t == T_LIST_QUICKLIST_2:
            n = self.plain_length()
            out = deque()
            for _ in range(n):
                container = QUICKLIST_PACKED
                if t == T_LIST_QUICKLIST_2:
                    cat = self.p
                    container = self.plain_length()
                    if container not in (QUICKLIST_PLAIN, QUICKLIST_PACKED):
                        raise RdbError("Quicklist integrity check failed", cat)
                blob = self.string()
                if container == QUICKLIST_PLAIN:
                    out.append(blob)
                elif t == T_LIST_QUICKLIST:
                    out.extend(_ziplist_items(blob, at))
                else:
                    out.extend(_listpack_items(blob, at))
            return out
        if t == T_STREAM_LISTPACKS or t == T_STREAM_LISTPACKS_2:
            return self.stream(t == T_STREAM_LISTPACKS_2)
        if t == T_STREAM_LISTPACKS_3:
            raise RdbError("Key %r holds a stream of Redis 7.2's format (RDB type %d), "
                           "which Redis 7.0 cannot load" % (key, t), type_at)
        if t in (T_MODULE, T_MODULE_2):
            raise RdbError("Key %r holds a module value (RDB type %d): modules are not "
                           "supported" % (key, t), type_at)
        raise RdbError("Unknown RDB value type %d" % t, type_at)

    # streams
    def u64(self):
        """A length-encoded unsigned 64-bit number (rdbLoadLen)."""
        return self.plain_length()

    def ms_time(self):
        """rdbLoadMillisecondTime: 8 bytes, little-endian, signed."""
        return int.from_bytes(self.take(8), "little", signed=True)

    def raw_id(self):
        return int.from_bytes(self.take(16), "big")

    def stream(self, v2):
        """A stream (RDB_TYPE_STREAM_LISTPACKS, or _2 when ``v2``) as a
        ``Stream``, with its groups, PELs and consumers."""
        s = Stream()
        pairs = []          # (ID, fields and values), in ID order
        model = []
        n_nodes = self.plain_length()
        prev = prev_master = -1
        for _ in range(n_nodes):
            at = self.p
            nodekey = self.string()
            if len(nodekey) != 16:
                raise RdbError("Stream node key entry is not the size of a stream ID", at)
            master = int.from_bytes(nodekey, "big")
            at = self.p
            lp = self.string()
            if len(lp) < 7 or lp[6] == 0xFF:
                if len(lp) >= 7 and int.from_bytes(lp[0:4], "little") == len(lp):
                    raise RdbError("Empty listpack inside stream", at)
                raise RdbError("Stream listpack integrity check failed.", at)
            if master <= prev_master:
                raise RdbError("Listpack re-added with existing key" if master == prev_master
                               else "Stream nodes not in ascending order", at)
            prev_master = master
            prev, last, live, deleted, fields = _stream_node_entries(lp, master, pairs, prev,
                                                                     at)
            if StreamNode is not None:
                # The model of this node (storage/stream.py): what XADD and
                # approximate trimming would find in Redis after loading.
                node = StreamNode(master, fields, len(lp) - len(lp_int(live))
                                  - len(lp_int(deleted)))
                node.last_id = last
                node.live = live
                node.deleted = deleted
                model.append(node)
        entries = s.entries = SortedDict(pairs)
        if StreamNode is not None:
            s.nodes = model
            s.node_entries = len(entries)
        at = self.p
        length = self.u64()
        s.last_id = self.u64() << 64 | self.u64()
        if v2:
            s.first_id = self.u64() << 64 | self.u64()
            s.max_deleted_id = self.u64() << 64 | self.u64()
            s.entries_added = self.u64()
        else:
            # Streams of Redis < 7.0: what Redis 7.0 infers while loading.
            s.entries_added = length
            s.first_id = entries.keys()[0] if entries else MAX_ID
        if length != len(entries):
            raise RdbError("Stream length inconsistent with its listpacks (%d declared, "
                           "%d entries)" % (length, len(entries)), at)
        n_groups = self.plain_length()
        groups = s.groups
        for _ in range(n_groups):
            at = self.p
            name = self.string()
            last = self.u64() << 64 | self.u64()
            if v2:
                entries_read = self.u64()
                if entries_read > (1 << 63) - 1:
                    entries_read -= 1 << 64          # SCG_INVALID_ENTRIES_READ (-1)
            else:
                entries_read = estimate_entries_read(s, last)
            if name in groups:
                raise RdbError("Duplicated consumer group name %s"
                               % name.decode("utf-8", "replace"), at)
            g = groups[name] = ConsumerGroup(name, last, entries_read)
            pel = g.pel
            for _ in range(self.plain_length()):
                at = self.p
                eid = self.raw_id()
                pe = PendingEntry(self.ms_time(), self.u64(), None)
                if eid in pel:
                    raise RdbError("Duplicated global PEL entry loading stream consumer group",
                                   at)
                pel[eid] = pe
            for _ in range(self.plain_length()):
                at = self.p
                cname = self.string()
                if cname in g.consumers:
                    raise RdbError("Duplicate stream consumer detected.", at)
                c = g.consumers[cname] = Consumer(cname, self.ms_time())
                for _ in range(self.plain_length()):
                    at = self.p
                    eid = self.raw_id()
                    pe = pel.get(eid)
                    if pe is None:
                        raise RdbError("Consumer entry not found in group global PEL", at)
                    if eid in c.pel or pe.consumer is not None:
                        raise RdbError("Duplicated consumer PEL entry  loading a stream "
                                       "consumer group", at)
                    pe.consumer = cname
                    c.pel[eid] = pe
            for pe in pel.values():
                if pe.consumer is None:
                    raise RdbError("Stream CG PEL entry without consumer", at)
        return s

    # whole file
    def header(self):
        magic = self.take(9)
        if magic[:5] != b"REDIS":
            raise RdbError("Wrong signature trying to load DB from file", 0)
        try:
            version = int(magic[5:])
        except ValueError:
            raise RdbError("Wrong signature trying to load DB from file", 0) from None
        if version < 1 or version > MAX_READ_VERSION:
            raise RdbError("Can't handle RDB format version %d" % version, 5)
        self.version = version
        return version

    def load(self, on_key, databases, verify_checksum=True, progress=None, progress_every=1024):
        """Parse a whole stream.  ``on_key(dbid, key, value, expire_ms)`` gets
        each pair (expire_ms None when there is none); ``progress(pos)`` is
        called every ``progress_every`` keys.  Returns a dict of the aux
        fields (plus "functions": [library code, ...])."""
        self._verify = verify_checksum
        while True:
            at = self.p
            try:
                self.header()
                break
            except RdbTruncated:
                if not self._more(at):
                    raise
        aux = {"functions": []}
        dbid = 0
        expire = None
        count = 0
        at = self.p
        # The records; when a streamed payload's window runs out, the record
        # that was being read (from ``at``) is read again with more bytes.
        while True:
            try:
                while True:
                    at = self.p
                    t = self.u8()
                    if t == OP_EXPIRETIME_MS:
                        expire = int.from_bytes(self.take(8), "little", signed=True)
                        continue
                    if t == OP_EXPIRETIME:
                        expire = int.from_bytes(self.take(4), "little", signed=True) * 1000
                        continue
                    if t == OP_IDLE:
                        self.plain_length()
                        continue
                    if t == OP_FREQ:
                        self.u8()
                        continue
                    if t == OP_SELECTDB:
                        n = self.plain_length()
                        if n >= databases:
                            raise RdbError("FATAL: Data file was created with a server "
                                           "configured to handle more than %d databases"
                                           % databases, at)
                        dbid = n
                        continue
                    if t == OP_RESIZEDB:
                        self.plain_length()
                        self.plain_length()
                        continue
                    if t == OP_AUX:
                        k = self.string()
                        v = self.string()
                        aux[k.decode("utf-8", "replace")] = v
                        continue
                    if t == OP_MODULE_AUX:
                        raise RdbError("The RDB file contains module AUX data: modules are "
                                       "not supported", at)
                    if t == OP_FUNCTION2:
                        aux["functions"].append(self.string())
                        continue
                    if t == OP_FUNCTION:
                        raise RdbError("Pre-release function format not supported", at)
                    if t == OP_EOF:
                        break
                    if t == T_STRING:
                        # The common case inlined: short raw key, then the value.
                        d = self.d
                        p = self.p
                        b = d[p] if p < self.n else 64
                        if b < 64 and p + 1 + b < self.n:
                            key = d[p + 1:p + 1 + b]
                            self.p = p + 1 + b
                        else:
                            key = self.string()
                        value = self.string_value()
                    else:
                        key = self.string()
                        value = self.read_object(t, key, at)
                        untrack_value(value)     # sets/lists stay out of the cyclic GC
                    on_key(dbid, key, value, expire)
                    expire = None
                    count += 1
                    if progress is not None and count % progress_every == 0:
                        progress(self.base + self.p)
                break
            except RdbTruncated:
                if not self._more(at):
                    raise
        eof = self.p
        if self.version >= 5:
            while True:
                try:
                    stored = int.from_bytes(self.take(8), "little")
                    break
                except RdbTruncated:
                    # (the checksum covers the bytes up to eof: resume there)
                    if not self._more(eof):
                        raise
                    eof = self.p
            if verify_checksum and stored != 0:
                actual = crc64(memoryview(self.d)[self.start:eof], self.crc)
                if actual != stored:
                    raise RdbError("RDB CRC error: wrong RDB checksum expected: (%x) but "
                                   "got (%x)" % (actual, stored), self.base + eof)
        aux["keys"] = count
        return aux


def estimate_entries_read(s, gid):
    """streamEstimateDistanceFromFirstEverEntry: the entries_read counter of
    a group whose last delivered ID is ``gid`` (-1 when it cannot be told),
    what Redis 7.0 gives the groups of a stream from an older RDB."""
    added = s.entries_added
    if not added:
        return 0
    n = len(s.entries)
    if not n and gid <= s.last_id:
        return added
    if gid == s.last_id:
        return added
    if gid > s.last_id:
        return -1
    if not s.max_deleted_id or s.max_deleted_id < s.first_id:
        if gid < s.first_id:
            return added - n
        if gid == s.first_id:
            return added - n + 1
    return -1


def _stream_node_entries(lp, master, pairs, prev, at):
    """Appends the live entries of one stream listpack node (master ID
    ``master``) to ``pairs`` as (ID, fields and values), checking that they
    come after ``prev`` (the last live ID before); returns the last live
    ID, the ID of the node's last entry (deleted or not: what Redis's
    trimming reads), the live and deleted counts and the master entry's
    field names."""
    items = _listpack_items(lp, at)
    bad = "Stream listpack integrity check failed."
    try:
        n = len(items)
        live = int(items[0])
        deleted = int(items[1])
        nf = int(items[2])
        if live < 0 or deleted < 0 or nf < 0 or 4 + nf > n or items[3 + nf] != b"0":
            raise RdbError(bad, at)
        master_fields = items[3:3 + nf]
        p = 4 + nf
        m_ms = master >> 64
        m_seq = master & U64
        seen_live = 0
        last = master
        for _ in range(live + deleted):
            flags = int(items[p])
            eid = (((m_ms + int(items[p + 1])) & U64) << 64) | ((m_seq + int(items[p + 2])) & U64)
            p += 3
            if flags & STREAM_FLAG_SAMEFIELDS:
                values = items[p:p + nf]
                if len(values) != nf:
                    raise RdbError(bad, at)
                fv = [None] * (2 * nf)
                fv[0::2] = master_fields
                fv[1::2] = values
                p += nf
                expect = nf + 3
            else:
                k = int(items[p])
                if k < 0:
                    raise RdbError(bad, at)
                fv = items[p + 1:p + 1 + 2 * k]
                if len(fv) != 2 * k:
                    raise RdbError(bad, at)
                p += 1 + 2 * k
                expect = 2 * k + 4
            if int(items[p]) != expect:
                raise RdbError(bad, at)
            p += 1
            last = eid
            if not flags & STREAM_FLAG_DELETED:
                # (Deleted entries are skipped unchecked, as Redis does.)
                if eid <= prev or eid < master:
                    raise RdbError("Stream entry IDs not in ascending order", at)
                prev = eid
                pairs.append((eid, tuple(fv)))
                seen_live += 1
        if p != n or seen_live != live:
            raise RdbError(bad, at)
    except (ValueError, IndexError):
        raise RdbError(bad, at) from None
    return prev, last, live, deleted, tuple(master_fields)


def _pairs_to_hash(items, at):
    h = {}
    it = iter(items)
    for f in it:
        try:
            v = next(it)
        except StopIteration:
            raise RdbError("Hash encoding with an odd number of elements", at) from None
        if f in h:
            raise RdbError("Duplicate hash fields detected", at)
        h[f] = v
    return h


def _pairs_to_zset(items, at):
    z = ZSet()
    it = iter(items)
    for m in it:
        try:
            s = next(it)
        except StopIteration:
            raise RdbError("Zset encoding with an odd number of elements", at) from None
        try:
            score = float(s)
        except ValueError:
            raise RdbError("Invalid zset score", at) from None
        if score != score:
            raise RdbError("Zset with NAN score detected", at)
        if m in z:
            raise RdbError("Duplicate zset fields detected", at)
        z.add(m, score)
    return z


def _intset_items(blob, at):
    if len(blob) < 8:
        raise RdbError("Intset integrity check failed", at)
    width = int.from_bytes(blob[0:4], "little")
    n = int.from_bytes(blob[4:8], "little")
    if width not in (2, 4, 8) or len(blob) != 8 + width * n:
        raise RdbError("Intset integrity check failed", at)
    out = []
    prev = None
    for i in range(n):
        o = 8 + i * width
        v = int.from_bytes(blob[o:o + width], "little", signed=True)
        if prev is not None and v <= prev:
            raise RdbError("Intset integrity check failed", at)
        prev = v
        out.append(b"%d" % v)
    return out


def _listpack_items(blob, at):
    """Every element of a listpack, as bytes."""
    n = len(blob)
    if n < 7 or int.from_bytes(blob[0:4], "little") != n or blob[-1] != 0xFF:
        raise RdbError("Listpack integrity check failed", at)
    declared = int.from_bytes(blob[4:6], "little")
    out = []
    p = 6
    end = n - 1
    try:
        while p < end:
            b = blob[p]
            if b < 0x80:                       # 7-bit uint
                out.append(b"%d" % b)
                l = 1
            elif b < 0xC0:                     # 6-bit string length
                sl = b & 0x3F
                out.append(blob[p + 1:p + 1 + sl])
                l = 1 + sl
            elif b < 0xE0:                     # 13-bit int
                u = ((b & 0x1F) << 8) | blob[p + 1]
                out.append(b"%d" % (u - (1 << 13) if u >= 1 << 12 else u))
                l = 2
            elif b < 0xF0:                     # 12-bit string length
                sl = ((b & 0x0F) << 8) | blob[p + 1]
                out.append(blob[p + 2:p + 2 + sl])
                l = 2 + sl
            elif b == 0xF0:                    # 32-bit string length
                sl = int.from_bytes(blob[p + 1:p + 5], "little")
                out.append(blob[p + 5:p + 5 + sl])
                l = 5 + sl
            elif 0xF1 <= b <= 0xF4:
                w = (2, 3, 4, 8)[b - 0xF1]
                out.append(b"%d" % int.from_bytes(blob[p + 1:p + 1 + w], "little", signed=True))
                l = 1 + w
            else:
                raise RdbError("Listpack integrity check failed (bad entry encoding)", at)
            p += l
            if p > end:
                raise RdbError("Listpack integrity check failed (entry past the end)", at)
            # the back length must be the entry's (lpValidateNext)
            if l <= 127:
                if blob[p] != l:
                    raise RdbError("Listpack integrity check failed (bad back length)", at)
                p += 1
            else:
                back = _lp_backlen(l)
                if blob[p:p + len(back)] != back:
                    raise RdbError("Listpack integrity check failed (bad back length)", at)
                p += len(back)
    except IndexError:
        raise RdbError("Listpack integrity check failed (truncated entry)", at) from None
    if p != end:
        raise RdbError("Listpack integrity check failed (bad size)", at)
    if declared != 65535 and declared != len(out):
        raise RdbError("Listpack integrity check failed (element count)", at)
    return out


def _ziplist_items(blob, at):
    """Every element of a ziplist (Redis < 7.0 encodings), as bytes."""
    n = len(blob)
    if n < 11 or int.from_bytes(blob[0:4], "little") != n or blob[-1] != 0xFF:
        raise RdbError("Ziplist integrity check failed", at)
    out = []
    p = 10
    end = n - 1
    try:
        while p < end:
            p += 5 if blob[p] == 0xFE else 1          # prevlen
            b = blob[p]
            kind = b >> 6
            if kind == 0:
                sl = b & 0x3F
                out.append(blob[p + 1:p + 1 + sl])
                p += 1 + sl
            elif kind == 1:
                sl = ((b & 0x3F) << 8) | blob[p + 1]
                out.append(blob[p + 2:p + 2 + sl])
                p += 2 + sl
            elif kind == 2:
                sl = int.from_bytes(blob[p + 1:p + 5], "big")
                out.append(blob[p + 5:p + 5 + sl])
                p += 5 + sl
            elif b == 0xC0:
                out.append(b"%d" % int.from_bytes(blob[p + 1:p + 3], "little", signed=True))
                p += 3
            elif b == 0xD0:
                out.append(b"%d" % int.from_bytes(blob[p + 1:p + 5], "little", signed=True))
                p += 5
            elif b == 0xE0:
                out.append(b"%d" % int.from_bytes(blob[p + 1:p + 9], "little", signed=True))
                p += 9
            elif b == 0xF0:
                out.append(b"%d" % int.from_bytes(blob[p + 1:p + 4], "little", signed=True))
                p += 4
            elif b == 0xFE:
                out.append(b"%d" % int.from_bytes(blob[p + 1:p + 2], "little", signed=True))
                p += 2
            elif 0xF1 <= b <= 0xFD:
                out.append(b"%d" % ((b & 0x0F) - 1))
                p += 1
            else:
                raise RdbError("Ziplist integrity check failed (bad entry encoding)", at)
            if p > end:
                raise RdbError("Ziplist integrity check failed (entry past the end)", at)
    except IndexError:
        raise RdbError("Ziplist integrity check failed (truncated entry)", at) from None
    if p != end:
        raise RdbError("Ziplist integrity check failed (bad size)", at)
    declared = int.from_bytes(blob[8:10], "little")
    if declared != 0xFFFF and declared != len(out):
        raise RdbError("Ziplist integrity check failed (element count)", at)
    return out


def _zipmap_items(blob, at):
    """Field/value items of a zipmap (hashes from Redis < 2.6)."""
    out = []
    n = len(blob)
    p = 1
    try:
        while True:
            b = blob[p]
            if b == 0xFF:
                break
            if b == 254:
                ln = int.from_bytes(blob[p + 1:p + 5], "little")
                p += 5
            else:
                ln = b
                p += 1
            out.append(blob[p:p + ln])
            p += ln
            b = blob[p]
            if b == 254:
                ln = int.from_bytes(blob[p + 1:p + 5], "little")
                p += 5
            else:
                ln = b
                p += 1
            free = blob[p]
            p += 1
            out.append(blob[p:p + ln])
            p += ln + free
            if p >= n:
                raise IndexError
    except IndexError:
        raise RdbError("Zipmap integrity check failed", at) from None
    if p != n - 1:
        raise RdbError("Zipmap integrity check failed", at)
    return out
