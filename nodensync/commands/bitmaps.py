"""Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

A bitmap is an ordinary string value; bit 0 is the most significant bit of
the first byte, as in Redis (bitops.c).  Values stay immutable ``bytes`` in
the keyspace: a write builds a ``bytearray``, changes it and stores it back.

Redis 7.0 semantics kept here on purpose:

* a write that neither grows the string nor changes a bit is no change
  (no ``setbit`` event, no WATCH invalidation, not propagated);
* BITCOUNT and BITPOS look the key up before they parse their range, so a
  missing key answers 0 (BITPOS: 0 or -1) whatever the range arguments;
* BITOP treats missing keys as empty strings and deletes the destination
  when the result is empty.
"""
from .. import errors
from ..errors import CommandError
from .registry import command, WRITE, READONLY, DENYOOM, FAST
from .strings import parse_int, _as_bytes, _opt
from .util import mark_raw_string, store_raw_string

G = "bitmap"
_OFFSET_ERR = "ERR bit offset is not an integer or out of range"
_TYPE_ERR = ("ERR Invalid bitfield type. Use something like i16 u8. "
             "Note that u64 is not supported but i64 is.")
_POPCOUNT = bytes(bin(i).count("1") for i in range(256))


def _bit_offset(ctx, arg, hash_bits=0):
    """Redis's getBitOffsetFromArgument: a bit offset below
    proto-max-bulk-len bytes; ``#N`` means N * hash_bits (BITFIELD)."""
    usehash = hash_bits and arg[:1] == b"#"
    try:
        offset = parse_int(arg[1:] if usehash else arg)
    except CommandError:
        raise CommandError(_OFFSET_ERR) from None
    if usehash:
        offset *= hash_bits
    if offset < 0 or (offset >> 3) >= ctx.node.config["protoMaxBulkLen"]:
        raise CommandError(_OFFSET_ERR)
    return offset


def _string_for_bit_write(ctx, key, maxbit):
    """Redis's lookupStringForBitCommand: the string at key as a bytearray
    grown with zero bytes to hold bit ``maxbit``, and whether it is new or
    grew (a change even if no bit flips)."""
    old = _as_bytes(ctx.db.get(key))
    need = (maxbit >> 3) + 1
    if old is None:
        return bytearray(need), True
    buf = bytearray(old)
    if len(buf) < need:
        buf.extend(bytes(need - len(buf)))
        return buf, True
    return buf, False


def _store(ctx, key, buf, changed, event="setbit"):
    """Store a written bitmap (the TTL stays).  Even an unchanged one is
    stored: Redis unshares it into a raw string either way."""
    store_raw_string(ctx.db, key, buf, event, changed=changed)


@command("setbit", arity=4, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key offset value", since="2.2.0", complexity="O(1)")
def setbit(ctx, key, offset, value):
    """Sets or clears the bit at offset in the string value stored at key."""
    offset = _bit_offset(ctx, offset)
    try:
        on = parse_int(value)
    except CommandError:
        on = -1
    if on not in (0, 1):
        raise CommandError("ERR bit is not an integer or out of range")
    buf, grown = _string_for_bit_write(ctx, key, offset)
    byte, mask = offset >> 3, 0x80 >> (offset & 7)
    old = 1 if buf[byte] & mask else 0
    if on:
        buf[byte] |= mask
    else:
        buf[byte] &= ~mask & 0xFF
    _store(ctx, key, buf, grown or old != on)
    return old


@command("getbit", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key offset", since="2.2.0", complexity="O(1)")
def getbit(ctx, key, offset):
    """Returns the bit value at offset in the string value stored at key."""
    offset = _bit_offset(ctx, offset)
    value = _as_bytes(ctx.db.get(key))
    byte = offset >> 3
    if value is None or byte >= len(value):
        return 0
    return 1 if value[byte] & (0x80 >> (offset & 7)) else 0


def _bit_range(n, start, end, unit):
    """Redis's range normalisation for BITCOUNT/BITPOS over a string of n
    bytes: (first bit, last bit) inclusive, or None when empty.  ``start``
    and ``end`` count bytes or bits as ``unit`` (BYTE or BIT, checked by the
    caller) says."""
    isbit = unit is not None and _opt(unit) == b"BIT"
    total = n * 8 if isbit else n
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = max(end, 0)
    if end >= total:
        end = total - 1
    if start > end:
        return None
    if isbit:
        return start, end
    return start * 8, end * 8 + 7


def _count_bits(value, first, last):
    """Set bits of value between bit positions first and last inclusive."""
    b0, b1 = first >> 3, last >> 3
    count = int.from_bytes(value[b0:b1 + 1], "big").bit_count()
    head = value[b0] >> (8 - (first & 7)) if first & 7 else 0
    tail = value[b1] & ((1 << (7 - (last & 7))) - 1)
    return count - _POPCOUNT[head] - _POPCOUNT[tail]


@command("bitcount", arity=-2, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key [start end [BYTE | BIT]]", since="2.6.0", complexity="O(N)")
def bitcount(ctx, key, *args):
    """Count set bits in a string."""
    value = _as_bytes(ctx.db.get(key))
    if value is None:
        return 0
    if not args:
        return _count_bits(value, 0, len(value) * 8 - 1) if value else 0
    if len(args) not in (2, 3):
        raise CommandError(errors.SYNTAX)
    start, end = parse_int(args[0]), parse_int(args[1])
    if start < 0 and end < 0 and start > end:
        return 0                          # before the unit word is read (Redis 7.0)
    unit = args[2] if len(args) == 3 else None
    if unit is not None and _opt(unit) not in (b"BIT", b"BYTE"):
        raise CommandError(errors.SYNTAX)
    rng = _bit_range(len(value), start, end, unit)
    return 0 if rng is None else _count_bits(value, *rng)


def _find_bit(value, bit, first, last):
    """Position of the first bit equal to ``bit`` in [first, last], or -1."""
    b0, b1 = first >> 3, last >> 3
    skip = 0 if bit else 0xFF          # a byte with no bit we look for
    pos = b0
    while pos <= b1:
        c = value[pos]
        if c != skip:
            lo = first - pos * 8 if pos == b0 else 0
            hi = last - pos * 8 if pos == b1 else 7
            for i in range(lo, hi + 1):
                if ((c >> (7 - i)) & 1) == bit:
                    return pos * 8 + i
        pos += 1
        if c == skip:
            # Jump over a run of uninteresting bytes at C speed.
            nxt = _next_byte_not(value, skip, pos, b1 + 1)
            pos = nxt
    return -1


def _next_byte_not(value, skip, lo, hi):
    stripped = value[lo:hi].lstrip(bytes((skip,)))
    return hi - len(stripped)


@command("bitpos", arity=-3, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key bit [start [end [BYTE | BIT]]]", since="2.8.7", complexity="O(N)")
def bitpos(ctx, key, bit, *args):
    """Find first bit set or clear in a string."""
    bit = parse_int(bit)
    if bit not in (0, 1):
        raise CommandError("ERR The bit argument must be 1 or 0.")
    value = _as_bytes(ctx.db.get(key))
    if value is None:
        return -1 if bit else 0
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    n = len(value)
    end_given = len(args) >= 2
    if args:
        start = parse_int(args[0])
        unit = args[2] if len(args) == 3 else None
        if unit is not None and _opt(unit) not in (b"BIT", b"BYTE"):
            raise CommandError(errors.SYNTAX)
        end = parse_int(args[1]) if end_given else -1
        rng = _bit_range(n, start, end, unit)
    else:
        rng = (0, n * 8 - 1) if n else None
    if rng is None:
        return -1
    pos = _find_bit(value, bit, *rng)
    if pos == -1 and bit == 0 and not end_given:
        # No explicit end: the string is taken as padded with zero bits.
        return rng[1] + 1
    return pos


@command("bitop", arity=-4, flags=WRITE | DENYOOM, keys=(2, -1, 1), group=G,
         syntax="AND | OR | XOR | NOT destkey key [key ...]", since="2.6.0", complexity="O(N)")
def bitop(ctx, op, dest, *keys):
    """Perform bitwise operations between strings."""
    op = _opt(op)
    if op not in (b"AND", b"OR", b"XOR", b"NOT"):
        raise CommandError(errors.SYNTAX)
    if op == b"NOT" and len(keys) != 1:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = ctx.db
    values = [_as_bytes(db.get(k)) or b"" for k in keys]
    maxlen = max(len(v) for v in values)
    if maxlen == 0:
        if db.delete(dest):
            db.modified(dest, "del", "g")
        return 0
    ints = [int.from_bytes(v.ljust(maxlen, b"\0"), "big") for v in values]
    acc = ints[0]
    if op == b"NOT":
        acc = ~acc & ((1 << (maxlen * 8)) - 1)
    elif op == b"AND":
        for v in ints[1:]:
            acc &= v
    elif op == b"OR":
        for v in ints[1:]:
            acc |= v
    else:
        for v in ints[1:]:
            acc ^= v
    result = acc.to_bytes(maxlen, "big")
    db.set(dest, result)
    db.modified(dest, "set", "$")
    mark_raw_string(db, dest, result)
    return maxlen


# -- BITFIELD ----------------------------------------------------------------------

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OPCODES = {b"GET": (_GET, 2), b"SET": (_SET, 3), b"INCRBY": (_INCRBY, 3)}   # arguments after
_OVERFLOWS = {b"WRAP": _WRAP, b"SAT": _SAT, b"FAIL": _FAIL}


def _bitfield_type(arg):
    """``i<bits>`` (1..64) or ``u<bits>`` (1..63) -> (signed, bits)."""
    sign = arg[:1]
    if sign not in (b"i", b"u"):
        raise CommandError(_TYPE_ERR)
    try:
        bits = parse_int(arg[1:])
    except CommandError:
        raise CommandError(_TYPE_ERR) from None
    if bits < 1 or bits > (64 if sign == b"i" else 63):
        raise CommandError(_TYPE_ERR)
    return sign == b"i", bits


def _parse_bitfield(ctx, args):
    ops = []
    overflow = _WRAP
    i, n = 0, len(args)
    while i < n:
        word = _opt(args[i])
        rem = n - i - 1
        if word == b"OVERFLOW" and rem >= 1:
            overflow = _OVERFLOWS.get(_opt(args[i + 1]))
            if overflow is None:
                raise CommandError("ERR Invalid OVERFLOW type specified")
            i += 2
            continue
        opcode, needs = _OPCODES.get(word, (None, 0))
        if opcode is None or rem < needs:
            raise CommandError(errors.SYNTAX)
        signed, bits = _bitfield_type(args[i + 1])
        offset = _bit_offset(ctx, args[i + 2], bits)
        arg = parse_int(args[i + 3]) if opcode != _GET else 0
        ops.append((opcode, signed, bits, offset, arg, overflow))
        i += 4 if opcode != _GET else 3
    return ops


def _read_field(buf, offset, bits, signed):
    """The integer of ``bits`` bits at bit ``offset`` (bytes past the end
    read as zero)."""
    b0, b1 = offset >> 3, (offset + bits - 1) >> 3
    chunk = bytes(buf[b0:b1 + 1]).ljust(b1 - b0 + 1, b"\0")
    value = (int.from_bytes(chunk, "big") >> ((b1 + 1) * 8 - offset - bits)) & ((1 << bits) - 1)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def _write_field(buf, offset, bits, value):
    b0, b1 = offset >> 3, (offset + bits - 1) >> 3
    shift = (b1 + 1) * 8 - offset - bits
    mask = ((1 << bits) - 1) << shift
    chunk = int.from_bytes(buf[b0:b1 + 1], "big")
    chunk = (chunk & ~mask) | ((value << shift) & mask)
    buf[b0:b1 + 1] = chunk.to_bytes(b1 - b0 + 1, "big")


def _overflow(total, signed, bits, kind):
    """Redis's check{Signed,Unsigned}BitfieldOverflow on the exact sum:
    (overflowed, value to store)."""
    if signed:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    if lo <= total <= hi:
        return False, total
    if kind == _SAT:
        return True, hi if total > hi else lo
    wrapped = total & ((1 << bits) - 1)
    if signed and wrapped >> (bits - 1):
        wrapped -= 1 << bits
    return True, wrapped


def _bitfield(ctx, key, args, readonly_cmd):
    ops = _parse_bitfield(ctx, args)
    writes = [op for op in ops if op[0] != _GET]
    db = ctx.db
    if not writes:
        value = _as_bytes(db.get(key)) or b""
        return [_read_field(value, op[3], op[2], op[1]) for op in ops]
    if readonly_cmd:
        raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    highest = max(op[3] + op[2] - 1 for op in writes)
    buf, grown = _string_for_bit_write(ctx, key, highest)
    changes = 0
    out = []
    for opcode, signed, bits, offset, arg, kind in ops:
        old = _read_field(buf, offset, bits, signed)
        if opcode == _GET:
            out.append(old)
            continue
        if opcode == _INCRBY:
            over, new = _overflow(old + arg, signed, bits, kind)
            reply = new
        else:
            # SET takes the 64-bit argument as the field's C type: an
            # unsigned field sees a negative value as a huge one.
            over, new = _overflow(arg if signed else arg & 0xFFFFFFFFFFFFFFFF,
                                  signed, bits, kind)
            reply = old
        if over and kind == _FAIL:
            out.append(None)
            continue
        out.append(reply)
        _write_field(buf, offset, bits, new)
        if grown or old != new:
            changes += 1
    _store(ctx, key, buf, False)
    if changes:
        db.modified(key, "setbit", "$", dirty=changes)
    return out


@command("bitfield", arity=-2, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL] "
                "SET encoding offset value | INCRBY encoding offset increment ...]",
         since="3.2.0", complexity="O(1) for each subcommand specified")
def bitfield(ctx, key, *args):
    """Perform arbitrary bitfield integer operations on strings."""
    return _bitfield(ctx, key, args, False)


@command("bitfield_ro", arity=-2, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key [GET encoding offset ...]", since="6.0.0",
         complexity="O(1) for each subcommand specified")
def bitfield_ro(ctx, key, *args):
    """Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD."""
    return _bitfield(ctx, key, args, True)
