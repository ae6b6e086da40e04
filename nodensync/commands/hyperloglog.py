"""HyperLogLog commands (PFADD, PFCOUNT, PFMERGE), as Redis 7.0's
hyperloglog.c.

A HyperLogLog is a string value in Redis's own format, so GET/SET/DUMP of
one moves between NodeNsync and Redis: a 16-byte header ("HYLL", encoding,
3 unused bytes, the cached cardinality as 8 little-endian bytes whose top
bit marks it stale) and 16384 six-bit registers, either sparse (run-length
opcodes ZERO 00xxxxxx, XZERO 01xxxxxx yyyyyyyy, VAL 1vvvvvxx) or dense
(little-endian bit stream).  Every step here follows the C code, opcode
splits and merges included, so the bytes are identical to Redis's.
"""
import math
from bisect import bisect_right

from .. import config as cfg
from ..errors import CommandError
from ..protocol.resp import OK, Status
from .registry import command, ADMIN, WRITE, READONLY, DENYOOM, FAST, MAY_REPLICATE
from .strings import _as_bytes
from .util import store_raw_string

G = "hyperloglog"
_P = 14
_Q = 64 - _P
_REGISTERS = 1 << _P
_MAX_VALUE = 63
_HDR = 16
_DENSE_SIZE = _HDR + (_REGISTERS * 6 + 7) // 8
_SPARSE, _DENSE = 1, 0
_VAL_MAX_VALUE, _VAL_MAX_LEN = 32, 4
_ZERO_MAX_LEN, _XZERO_MAX_LEN = 64, 16384
_ALPHA_INF = 0.721347520444481703680
_INVALID = "WRONGTYPE Key is not a valid HyperLogLog string value."
_CORRUPT = "INVALIDOBJ Corrupted HLL object detected"
_M64 = 0xFFFFFFFFFFFFFFFF

cfg.declare("hllSparseMaxBytes", "int", 3000,
            "Largest sparse HyperLogLog in bytes (header included); PFADD/PFMERGE convert a "
            "bigger one to the dense form.", redis="hll-sparse-max-bytes", mutable=True,
            minimum=0, maximum=(1 << 63) - 1, group="encoding", parser=cfg.redis_memory)


def _murmur64a(key, seed=0xadc83b19):
    """MurmurHash64A, as Redis uses it (little-endian blocks)."""
    m, r = 0xc6a4a7935bd1e995, 47
    n = len(key)
    h = (seed ^ (n * m)) & _M64
    end = n - n % 8
    for i in range(0, end, 8):
        k = int.from_bytes(key[i:i + 8], "little")
        k = (k * m) & _M64
        k ^= k >> r
        k = (k * m) & _M64
        h ^= k
        h = (h * m) & _M64
    tail = key[end:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * m) & _M64
    h ^= h >> r
    h = (h * m) & _M64
    h ^= h >> r
    return h


def _pat_len(element):
    """(register index, run of zeros + 1) of an element (hllPatLen)."""
    h = _murmur64a(element)
    index = h & (_REGISTERS - 1)
    h = (h >> _P) | (1 << _Q)
    return index, (h & -h).bit_length()


def _new_hll():
    """createHLLObject: a sparse HLL of XZERO opcodes, cached count 0."""
    body = bytearray()
    left = _REGISTERS
    while left:
        n = min(left, _XZERO_MAX_LEN) - 1
        body += bytes((0x40 | (n >> 8), n & 0xFF))
        left -= n + 1
    return bytearray(b"HYLL" + bytes((_SPARSE, 0, 0, 0)) + bytes(8)) + body


def _valid(value):
    """isHLLObjectOrReply's checks on a string value."""
    if len(value) < _HDR or value[:4] != b"HYLL" or value[4] > 1:
        return False
    return value[4] != _DENSE or len(value) == _DENSE_SIZE


def _get_hll(db, key):
    """The HLL at key as bytes (None when absent); errors for other values."""
    value = _as_bytes(db.get(key))
    if value is not None and not _valid(value):
        raise CommandError(_INVALID)
    return value


# -- sparse opcodes -----------------------------------------------------------------

def _ops(buf):
    """Walk a sparse body: (position, kind, run length, value) per opcode;
    kind 0 ZERO, 1 XZERO, 2 VAL."""
    p, end = _HDR, len(buf)
    while p < end:
        b = buf[p]
        if b & 0x80:
            yield p, 2, (b & 0x3) + 1, ((b >> 2) & 0x1F) + 1
            p += 1
        elif b & 0x40:
            # An XZERO cut short by the end of the string: Redis reads the
            # string's NUL terminator as its second byte.
            yield p, 1, (((b & 0x3F) << 8) | (buf[p + 1] if p + 1 < end else 0)) + 1, 0
            p += 2
        else:
            yield p, 0, (b & 0x3F) + 1, 0
            p += 1


def _registers(value):
    """All 16384 register values of an HLL (hllMerge's decoding); None when
    a sparse HLL does not add up to exactly that many registers."""
    if value[4] == _DENSE:
        regs = []
        body = value[_HDR:]
        for i in range(0, len(body), 3):         # 3 bytes hold 4 registers
            v = body[i] | (body[i + 1] << 8) | (body[i + 2] << 16)
            regs += (v & 63, (v >> 6) & 63, (v >> 12) & 63, v >> 18)
        return regs
    regs = []
    for _, kind, run, val in _ops(value):
        if len(regs) + run > _REGISTERS:
            return None
        regs.extend([val] * run)
    return regs if len(regs) == _REGISTERS else None


def _zero_op(run):
    n = run - 1
    if run > _ZERO_MAX_LEN:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    return bytes((n,))


def _val_op(value, run):
    return bytes((0x80 | ((value - 1) << 2) | (run - 1),))


def _to_dense(buf, regs=None):
    """hllSparseToDense: the same header (magic, cached count), dense body."""
    if regs is None:
        regs = _registers(bytes(buf))
    out = bytearray(buf[:_HDR])
    out[4] = _DENSE
    for i in range(0, _REGISTERS, 4):
        v = regs[i] | (regs[i + 1] << 6) | (regs[i + 2] << 12) | (regs[i + 3] << 18)
        out += bytes((v & 0xFF, (v >> 8) & 0xFF, v >> 16))
    return out


def _dense_set(buf, index, count):
    """hllDenseSet: 1 when the register grew."""
    byte, fb = _HDR + index * 6 // 8, index * 6 & 7
    pair = buf[byte] | (buf[byte + 1] << 8) if byte + 1 < len(buf) else buf[byte]
    old = (pair >> fb) & _MAX_VALUE
    if count <= old:
        return 0
    pair = (pair & ~(_MAX_VALUE << fb)) | (count << fb)
    buf[byte] = pair & 0xFF
    if byte + 1 < len(buf):
        buf[byte + 1] = (pair >> 8) & 0xFF
    return 1


def _sparse_set(buf, index, count, max_bytes):
    """hllSparseSet on a bytearray: (result, buffer), the buffer replaced
    when the HLL was promoted to dense (a register above 32, or longer than
    ``max_bytes``); result 1 changed, 0 not, -1 bad."""
    if count > _VAL_MAX_VALUE:
        return _promote(buf, index, count)
    # The walk to the opcode holding ``index`` (_ops inlined: this loop is
    # most of a PFADD's time on a sparse HLL).
    first = 0
    prev = None
    p, end = _HDR, len(buf)
    while p < end:
        b = buf[p]
        if b & 0x80:
            kind, run, oplen = 2, (b & 0x3) + 1, 1
        elif b & 0x40:
            if p + 1 >= end:
                return -1, buf                              # (a truncated XZERO)
            kind, run, oplen = 1, (((b & 0x3F) << 8) | buf[p + 1]) + 1, 2
        else:
            kind, run, oplen = 0, b + 1, 1
        if index < first + run:
            break
        prev = p
        p += oplen
        first += run
    else:
        return -1, buf
    val = ((b >> 2) & 0x1F) + 1 if kind == 2 else 0
    oplen = 2 if kind == 1 else 1
    if kind == 2:
        if val >= count:
            return 0, buf                                   # case A
        if run == 1:
            buf[p] = _val_op(count, 1)[0]                   # case B
            return 1, _merge(buf, prev)
    if kind == 0 and run == 1:
        buf[p] = _val_op(count, 1)[0]                       # case C
        return 1, _merge(buf, prev)
    last = first + run - 1
    seq = bytearray()
    if kind == 2:
        if index != first:
            seq += _val_op(val, index - first)
        seq += _val_op(count, 1)
        if index != last:
            seq += _val_op(val, last - index)
    else:
        if index != first:
            seq += _zero_op(index - first)
        seq += _val_op(count, 1)
        if index != last:
            seq += _zero_op(last - index)
    delta = len(seq) - oplen
    if delta > 0 and len(buf) + delta > max_bytes:
        return _promote(buf, index, count)
    buf[p:p + oplen] = seq
    return 1, _merge(buf, prev)


def _promote(buf, index, count):
    regs = _registers(bytes(buf))
    if regs is None:
        return -1, buf
    dense = _to_dense(buf, regs)
    return _dense_set(dense, index, count), dense


def _merge(buf, prev):
    """Step 4 of hllSparseSet: merge adjacent VAL opcodes of equal value,
    scanning up to 5 opcodes from the one before the change."""
    p = prev if prev is not None else _HDR
    scan = 5
    while p < len(buf) and scan:
        scan -= 1
        b = buf[p]
        if not b & 0x80:
            p += 2 if b & 0x40 else 1
            continue
        if p + 1 < len(buf) and buf[p + 1] & 0x80:
            v1, v2 = (b >> 2) & 0x1F, (buf[p + 1] >> 2) & 0x1F
            total = (b & 3) + (buf[p + 1] & 3) + 2
            if v1 == v2 and total <= _VAL_MAX_LEN:
                buf[p:p + 2] = _val_op(v1 + 1, total)
                continue
        p += 1
    return buf


_PROMOTE = -2


class _Sparse:
    """A well-formed sparse HLL as a list of opcodes, for a batch of
    register updates (PFADD of many elements, PFMERGE): each update finds
    its opcode by bisecting the opcodes' first registers instead of walking
    the bytes from the start (about 90 us per update in Python on a
    2-kilobyte HLL), and then splits and merges exactly as hllSparseSet
    (``_sparse_set``) does, so ``encode`` gives Redis's bytes."""
    __slots__ = ("ops", "starts", "size")

    @classmethod
    def parse(cls, buf):
        """None unless the opcodes cover exactly the 16384 registers and
        none is cut short (the byte path handles such HLLs)."""
        self = cls()
        ops, starts = self.ops, self.starts = [], []
        add_op, add_start = ops.append, starts.append
        first = 0
        p, end = _HDR, len(buf)
        while p < end:
            b = buf[p]
            add_start(first)
            if b & 0x80:
                run = (b & 0x3) + 1
                add_op((2, run, ((b >> 2) & 0x1F) + 1))
                p += 1
            elif b & 0x40:
                if p + 1 >= end:
                    return None
                run = (((b & 0x3F) << 8) | buf[p + 1]) + 1
                add_op((1, run, 0))
                p += 2
            else:
                run = b + 1
                add_op((0, run, 0))
                p += 1
            first += run
        if first != _REGISTERS:
            return None
        self.size = end - _HDR
        return self

    def set(self, index, count, max_bytes):
        """hllSparseSet's result (1 changed, 0 not), or _PROMOTE."""
        if count > _VAL_MAX_VALUE:
            return _PROMOTE
        ops, starts = self.ops, self.starts
        i = bisect_right(starts, index) - 1
        kind, run, val = ops[i]
        if kind == 2:
            if val >= count:
                return 0                                    # case A
            if run == 1:
                ops[i] = (2, 1, count)                      # case B
                self._merge(i - 1 if i else 0)
                return 1
        elif kind == 0 and run == 1:
            ops[i] = (2, 1, count)                          # case C
            self._merge(i - 1 if i else 0)
            return 1
        first = starts[i]
        last = first + run - 1
        new_ops = []
        new_starts = []
        if index != first:
            new_ops.append((2, index - first, val) if kind == 2 else _zero(index - first))
            new_starts.append(first)
        new_ops.append((2, 1, count))
        new_starts.append(index)
        if index != last:
            new_ops.append((2, last - index, val) if kind == 2 else _zero(last - index))
            new_starts.append(index + 1)
        delta = sum(2 if k == 1 else 1 for k, _, _ in new_ops) - (2 if kind == 1 else 1)
        if delta > 0 and _HDR + self.size + delta > max_bytes:
            return _PROMOTE
        ops[i:i + 1] = new_ops
        starts[i:i + 1] = new_starts
        self.size += delta
        self._merge(i - 1 if i else 0)
        return 1

    def _merge(self, p):
        """_merge's scan of up to 5 opcodes from ``p``."""
        ops, starts = self.ops, self.starts
        scan = 5
        while p < len(ops) and scan:
            scan -= 1
            kind, run, val = ops[p]
            if kind == 2 and p + 1 < len(ops):
                k2, r2, v2 = ops[p + 1]
                if k2 == 2 and v2 == val and run + r2 <= _VAL_MAX_LEN:
                    ops[p:p + 2] = [(2, run + r2, val)]
                    del starts[p + 1]
                    self.size -= 1
                    continue
            p += 1

    def encode(self, buf):
        """The HLL: ``buf``'s header, then the opcodes (each of the kind it
        has: an XZERO read from the input stays one, even if short)."""
        out = bytearray(buf[:_HDR])
        for kind, run, val in self.ops:
            if kind == 2:
                out.append(0x80 | ((val - 1) << 2) | (run - 1))
            elif kind == 0:
                out.append(run - 1)
            else:
                out += bytes((0x40 | ((run - 1) >> 8), (run - 1) & 0xFF))
        return out


def _zero(run):
    return (0, run, 0) if run <= _ZERO_MAX_LEN else (1, run, 0)


def _set_registers(ctx, buf, pairs, stop_on_error, batch=True):
    """Set each (index, count) of ``pairs`` in order, as repeated
    hllSparseSet / hllDenseSet calls: (sum of the results or -1 when ``stop_on_error``
    met a corrupted HLL, the buffer).  With ``batch``, a sparse HLL takes
    the batch path (_Sparse) until it is promoted to dense: decoding and
    encoding it costs about two walks, worth it from a few updates on."""
    max_bytes = ctx.node.config["hllSparseMaxBytes"]
    sparse = _Sparse.parse(buf) if batch and buf[4] != _DENSE else None
    updated = 0
    for index, count in pairs:
        if sparse is not None:
            result = sparse.set(index, count, max_bytes)
            if result == _PROMOTE:
                result, buf = _promote(sparse.encode(buf), index, count)
                sparse = None
        elif buf[4] == _DENSE:
            result = _dense_set(buf, index, count)
        else:
            result, buf = _sparse_set(buf, index, count, max_bytes)
        if result < 0:
            if stop_on_error:
                return -1, buf
            continue
        updated += result
    if sparse is not None and updated:
        buf = sparse.encode(buf)
    return updated, buf


# -- estimator ----------------------------------------------------------------------

def _sigma(x):
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_prev = z
        z += x * y
        y += y
        if z_prev == z:
            return z


def _tau(x):
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        z_prev = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if z_prev == z:
            return z / 3


def _count(regs):
    """hllCount: Ertl's improved estimator over the register histogram."""
    m = float(_REGISTERS)
    histo = [0] * 64
    for r in regs:
        histo[r] += 1
    z = m * _tau((m - histo[_Q + 1]) / m)
    for j in range(_Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    e = _ALPHA_INF * m * m / z
    return int(math.floor(e + 0.5))       # llroundl: half away from zero (e >= 0)


# -- commands ---------------------------------------------------------------------

def _store(ctx, key, buf, event="pfadd", dirty=1):
    store_raw_string(ctx.db, key, buf, event, dirty)


@command("pfadd", arity=-2, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key [element [element ...]]", since="2.8.9",
         complexity="O(1) to add every element.",
         summary="Adds the specified elements to the specified HyperLogLog.")
def pfadd(ctx, key, *elements):
    """Count elements into the HyperLogLog at key."""
    value = _get_hll(ctx.db, key)
    updated = 0
    if value is None:
        buf = _new_hll()
        updated = 1
    else:
        buf = bytearray(value)
    result, buf = _set_registers(ctx, buf, map(_pat_len, elements), True, len(elements) > 4)
    if result < 0:
        raise CommandError(_CORRUPT)
    updated += result
    if updated:
        buf[15] |= 0x80                       # cached cardinality is stale
        _store(ctx, key, buf, dirty=updated)
    return 1 if updated else 0


@command("pfcount", arity=-2, flags=READONLY | MAY_REPLICATE, keys=(1, -1, 1), group=G,
         syntax="key [key ...]", since="2.8.9",
         complexity="O(1) with a very small average constant time when called with a single "
         "key. O(N) with N being the number of keys, and much bigger constant times, when "
         "called with multiple keys.",
         summary="Return the approximated cardinality of the set(s) observed by "
                 "the HyperLogLog at key(s).")
def pfcount(ctx, *keys):
    """The estimated number of distinct elements added to the key(s)."""
    db = ctx.db
    if len(keys) > 1:
        merged = [0] * _REGISTERS
        for k in keys:
            value = _get_hll(db, k)
            if value is None:
                continue
            regs = _registers(value)
            if regs is None:
                raise CommandError(_CORRUPT)
            merged = [a if a > b else b for a, b in zip(merged, regs)]
        return _count(merged)
    key = keys[0]
    value = _get_hll(db, key)
    if value is None:
        return 0
    if not value[15] & 0x80:
        return int.from_bytes(value[8:16], "little")
    regs = _registers(value)
    if regs is None:
        raise CommandError(_CORRUPT)
    card = _count(regs)
    # The refreshed cache is a change of the string: stored and propagated.
    buf = bytearray(value)
    buf[8:16] = card.to_bytes(8, "little")
    _store(ctx, key, buf, event=None)
    return card


@command("pfmerge", arity=-2, flags=WRITE | DENYOOM, keys=(1, -1, 1), group=G,
         syntax="destkey [sourcekey [sourcekey ...]]", since="2.8.9",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
         summary="Merge N different HyperLogLogs into a single one.")
def pfmerge(ctx, dest, *sources):
    """Merge HyperLogLogs (the destination's own included) into destkey."""
    db = ctx.db
    merged = [0] * _REGISTERS
    use_dense = False
    for k in (dest,) + sources:
        value = _get_hll(db, k)
        if value is None:
            continue
        use_dense = use_dense or value[4] == _DENSE
        regs = _registers(value)
        if regs is None:
            raise CommandError(_CORRUPT)
        merged = [a if a > b else b for a, b in zip(merged, regs)]
    value = _as_bytes(db.get(dest))
    buf = _new_hll() if value is None else bytearray(value)
    if use_dense and buf[4] != _DENSE:
        regs = _registers(bytes(buf))
        if regs is None:
            raise CommandError(_CORRUPT)
        buf = _to_dense(buf, regs)
    _, buf = _set_registers(ctx, buf, ((i, c) for i, c in enumerate(merged) if c), False)
    buf[15] |= 0x80
    _store(ctx, dest, buf)
    return OK



@command("pfdebug", arity=3, flags=WRITE | DENYOOM | ADMIN, keys=(2, 2, 1), group=G,
         syntax="subcommand key", since="2.8.9", complexity="N/A",
         summary="Internal commands for debugging HyperLogLog values")
def pfdebug(ctx, subcommand, key):
    """PFDEBUG GETREG | DECODE | ENCODING | TODENSE key, as Redis 7.0's
    pfdebugCommand (GETREG and TODENSE convert a sparse HLL to dense)."""
    db = ctx.db
    value = db.get(key)
    if value is None:
        raise CommandError("ERR The specified key does not exist")
    value = _get_hll(db, key)
    sub = subcommand.lower()
    sparse = value[4] != _DENSE
    if sub in (b"getreg", b"todense"):
        if sparse:
            regs = _registers(value)
            if regs is None:
                raise CommandError(_CORRUPT)
            value = bytes(_to_dense(value, regs))
            # As Redis: no keyspace event, no WATCH touched, but a change
            # to propagate (replicas convert too).
            store_raw_string(db, key, value, changed=False)
            db.keyspace.dirty += 1
        if sub == b"todense":
            return 1 if sparse else 0
        return _registers(value)
    if sub == b"decode":
        if not sparse:
            raise CommandError("ERR HLL encoding is not sparse")
        words = []
        for _, kind, run, val in _ops(value):
            words.append("z:%d" % run if kind == 0 else "Z:%d" % run if kind == 1
                         else "v:%d,%d" % (val, run))
        return " ".join(words).encode()
    if sub == b"encoding":
        return Status(b"sparse" if sparse else b"dense")
    raise CommandError("ERR Unknown PFDEBUG subcommand '%s'" % subcommand.decode("utf-8", "replace"))
