"""RESP2/RESP3 encoding of handler results, and the reply types handlers use.

Handlers return plain Python values; this module decides how each looks on
the wire for the client's protocol version:

=====================  =======================  ==========================
handler returns        RESP2                    RESP3
=====================  =======================  ==========================
bytes / str            bulk string              bulk string
int (and bool)         integer                  integer
float                  bulk string (%.17g)      double
None                   null bulk ``$-1``        null ``_``
NULL_ARRAY             null array ``*-1``       null ``_``
list / tuple           array                    array
Bulks                  array                    array
dict                   flat array k1 v1 ...     map
set / frozenset        array                    set
OrderedSet             array                    set (order kept)
Push                   array                    push ``>``
Status                 simple string ``+``      simple string
Verbatim               bulk string              verbatim ``=``
Bool                   integer 1/0              boolean ``#t``/``#f``
CommandError           error ``-``              error ``-``
Raw                    written as is            written as is
=====================  =======================  ==========================
"""
import math
from itertools import chain
from operator import concat as _concat

from ..errors import CommandError


class Status(bytes):
    """A simple-string reply (``+OK``)."""
    __slots__ = ()


class Verbatim(str):
    """Text shown by RESP3 clients as a verbatim string (``=len txt:...``)."""
    __slots__ = ()


class Bulks(list):
    """An array reply whose elements are all ``bytes`` read from the keyspace
    (LRANGE's list elements), so encoding skips the per-element type check
    a plain list needs.  Only for values known to be bytes: a ``Status`` or
    ``Raw`` element would go out as a bulk string."""
    __slots__ = ()


class Push(list):
    """An out-of-band message (pub/sub, invalidation): ``>`` in RESP3."""
    __slots__ = ()


class OrderedSet(list):
    """A set reply whose order matters (COMMAND INFO flags): ``~`` in RESP3,
    an array in RESP2."""
    __slots__ = ()


class Bool(int):
    """A RESP3 boolean; RESP2 clients see 1 or 0."""
    __slots__ = ()


class Raw(bytes):
    """Bytes that are already RESP, written unchanged."""
    __slots__ = ()


class RawPush(Raw):
    """Already-RESP push messages a client gets whatever its CLIENT REPLY
    mode: the (un)subscribe confirmations, as Redis 7.0 sends them."""
    __slots__ = ()


class _NullArray:
    __slots__ = ()

    def __repr__(self):
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()


class _NoReply:
    """A handler result meaning "send nothing": the handler wrote its own
    output (SUBSCRIBE) or the client is going away."""
    __slots__ = ()


NO_REPLY = _NoReply()

def status_lines(lines):
    """A HELP reply: each text line as a simple string."""
    return [Status(line.encode()) for line in lines]


OK = Status(b"OK")
PONG = Status(b"PONG")
QUEUED = Status(b"QUEUED")

# Pre-encoded frequent replies: the hot path joins these instead of formatting.
_CRLF = b"\r\n"
_OK_BYTES = b"+OK\r\n"
_PONG_BYTES = b"+PONG\r\n"
_NULL2 = b"$-1\r\n"
_NULL3 = b"_\r\n"
_NULLARR2 = b"*-1\r\n"
_SMALL_INTS = [b":%d\r\n" % i for i in range(-1, 10001)]
_BULK_HDR = [b"$%d\r\n" % i for i in range(0, 1025)]
_ONLY_BYTES = {bytes}


def format_double(d):
    """Redis 7.0's addReplyDouble text: %.17g, with inf/-inf spelled out."""
    if math.isinf(d):
        return b"inf" if d > 0 else b"-inf"
    if d == 0:
        return b"-0" if math.copysign(1.0, d) < 0 else b"0"
    return b"%.17g" % d


def encode_double(d, resp3):
    """A score or other double reply: a RESP3 double, a bulk string in RESP2."""
    text = format_double(d)
    if resp3:
        return b",%s\r\n" % text
    return b"$%d\r\n%s\r\n" % (len(text), text)


def format_human_double(d):
    """Redis's "human friendly" long-double text used by INCRBYFLOAT,
    HINCRBYFLOAT: 17 significant digits, no exponent, no trailing zeros."""
    if math.isinf(d):
        return b"inf" if d > 0 else b"-inf"
    text = "%.17f" % d
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


def encode(value, resp3=False):
    """Encode one handler result as RESP bytes."""
    t = type(value)
    if t is bytes:
        n = len(value)
        if n <= 1024:
            return _BULK_HDR[n] + value + _CRLF
        return b"$%d\r\n%s\r\n" % (n, value)
    if t is Raw:                     # (pre-encoded: ZPOPMIN, GEO, EXEC ...)
        return value
    if value is OK:
        return _OK_BYTES
    if value is PONG:
        return _PONG_BYTES
    if t is Status:
        return b"+%s\r\n" % value
    if value is None:
        return _NULL3 if resp3 else _NULL2
    if t is int:
        if -1 <= value <= 10000:
            return _SMALL_INTS[value + 1]
        return b":%d\r\n" % value
    if t is Bulks:                   # LRANGE ...: bytes guaranteed, no type scan
        return _encode_bulks(value, b"*%d\r\n" % len(value)) if value else b"*0\r\n"
    if t is list:
        if not value:
            return b"*0\r\n"
        if set(map(type, value)) == _ONLY_BYTES:
            return _encode_bulks(value, b"*%d\r\n" % len(value))
    elif t is set:
        if value and set(map(type, value)) == _ONLY_BYTES:     # SMEMBERS, SINTER ...
            return _encode_bulks(value, b"%s%d\r\n" % (b"~" if resp3 else b"*", len(value)))
    elif t is dict:
        if (value and set(map(type, value)) == _ONLY_BYTES
                and set(map(type, value.values())) == _ONLY_BYTES):   # HGETALL ...
            return _encode_bulks(list(chain.from_iterable(value.items())),
                                 b"%%%d\r\n" % len(value) if resp3
                                 else b"*%d\r\n" % (2 * len(value)))
    out = []
    _encode_into(value, out, resp3)
    return b"".join(out)


def _encode_bulks(value, head):
    """``head`` (an array, set or map header) and the bulk strings of
    ``value`` (a non-empty list or set of bytes: LRANGE, MGET hits, HKEYS,
    SMEMBERS ...), built by C loops (map/join/count) instead of Python work
    per element: elements of one length (redis-benchmark's LRANGE,
    fixed-size ids) need a single join with the header as separator."""
    lens = list(map(len, value))
    first = lens[0]
    try:
        if lens.count(first) == len(lens):     # (cheaper than a set of the lengths)
            hdr = _BULK_HDR[first]
            return b"%s%s%s\r\n" % (head, hdr, (_CRLF + hdr).join(value))
        return b"%s%s\r\n" % (head, _CRLF.join(
            map(_concat, map(_BULK_HDR.__getitem__, lens), value)))
    except IndexError:                         # an element longer than 1024 bytes
        pass
    return head + b"".join(
        [(_BULK_HDR[len(x)] if len(x) <= 1024 else b"$%d\r\n" % len(x)) + x + _CRLF
         for x in value])


def _encode_into(value, out, resp3):
    append = out.append
    t = type(value)
    if t is bytes:
        n = len(value)
        append(_BULK_HDR[n] if n <= 1024 else b"$%d\r\n" % n)
        append(value)
        append(_CRLF)
    elif t is int:
        append(_SMALL_INTS[value + 1] if -1 <= value <= 10000 else b":%d\r\n" % value)
    elif value is None:
        append(_NULL3 if resp3 else _NULL2)
    elif t is list or t is tuple:
        if len(value) > 4 and set(map(type, value)) == _ONLY_BYTES:   # SCAN's keys, EXEC ...
            append(_encode_bulks(value, b"*%d\r\n" % len(value)))
            return
        append(b"*%d\r\n" % len(value))
        for item in value:
            _encode_into(item, out, resp3)
    elif t is Bulks:
        append(_encode_bulks(value, b"*%d\r\n" % len(value)) if value else b"*0\r\n")
    elif t is Status:
        append(b"+%s\r\n" % value)
    elif t is dict:
        if resp3:
            append(b"%%%d\r\n" % len(value))
        else:
            append(b"*%d\r\n" % (2 * len(value)))
        for k, v in value.items():
            _encode_into(k, out, resp3)
            _encode_into(v, out, resp3)
    elif t is float:
        append(encode_double(value, resp3))
    elif t is str:
        _encode_into(value.encode(), out, resp3)
    elif isinstance(value, CommandError):
        value.__traceback__ = None   # shared instances must not accumulate frames
        append(b"-%s\r\n" % _safe_error(value.message))
    elif t is set or t is frozenset:
        append(b"%s%d\r\n" % (b"~" if resp3 else b"*", len(value)))
        for item in value:
            _encode_into(item, out, resp3)
    elif t is OrderedSet:
        append(b"%s%d\r\n" % (b"~" if resp3 else b"*", len(value)))
        for item in value:
            _encode_into(item, out, resp3)
    elif t is Push:
        append(b"%s%d\r\n" % (b">" if resp3 else b"*", len(value)))
        for item in value:
            _encode_into(item, out, resp3)
    elif value is NULL_ARRAY:
        append(_NULL3 if resp3 else _NULLARR2)
    elif t is Bool or t is bool:
        if resp3 and t is Bool:
            append(b"#t\r\n" if value else b"#f\r\n")
        else:
            append(b":1\r\n" if value else b":0\r\n")
    elif t is Verbatim:
        data = value.encode()
        if resp3:
            append(b"=%d\r\ntxt:%s\r\n" % (len(data) + 4, data))
        else:
            append(b"$%d\r\n%s\r\n" % (len(data), data))
    elif t is Raw or t is RawPush:
        append(value)
    elif isinstance(value, bytes):  # bytearray/other bytes subclasses
        _encode_into(bytes(value), out, resp3)
    elif isinstance(value, int):
        append(b":%d\r\n" % value)
    else:
        raise TypeError("cannot encode %r as RESP" % (value,))


def _safe_error(message):
    if isinstance(message, str):
        message = message.encode("utf-8", "replace")
    return message.replace(b"\r", b" ").replace(b"\n", b" ")


def encode_error(message):
    return b"-%s\r\n" % _safe_error(message)


class ReplicaOnly(list):
    """A propagated command for the replicas only, not the AOF: PUBLISH and
    SPUBLISH (Redis's forceCommandPropagation(c, PROPAGATE_REPL)), so that
    clients subscribed on a replica get the master's messages."""
    __slots__ = ()


def encode_command(argv):
    """A command as a RESP multibulk (for replication, AOF, MONITOR tools)."""
    out = [b"*%d\r\n" % len(argv)]
    for a in argv:
        if type(a) is not bytes:
            a = str(a).encode() if not isinstance(a, bytes) else bytes(a)
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
