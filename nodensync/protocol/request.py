"""Parsing client requests.

The fast path (in server/client.py) hands whole reads to ``hiredis.Reader``.
This module is the exact, slower path used when a read does not begin and
end on command boundaries or is not plain multibulk: inline commands
(telnet), commands split across reads, limits (Redis's protocol errors) and
garbage.  It keeps its own buffer and never rescans bulk data it already
counted.
"""
from ..errors import ProtocolError

INLINE_MAX = 64 * 1024       # Redis's PROTO_INLINE_MAX_SIZE
INT_MAX = 2 ** 31 - 1


def _strict_int(text):
    """Redis's string2ll: canonical decimal only (no '+', spaces, leading
    zeros); None otherwise."""
    try:
        v = int(text)
    except ValueError:
        return None
    return v if b"%d" % v == text else None


class RequestParser:
    """Incremental RESP request parser with Redis's limits and messages."""

    __slots__ = ("buf", "pos", "args", "remaining", "bulk_len", "max_bulk",
                 "auth_required")

    def __init__(self, max_bulk=512 * 1024 * 1024, auth_required=False):
        self.buf = bytearray()
        self.pos = 0
        self.args = None          # args of the multibulk being read
        self.remaining = 0        # bulks still expected
        self.bulk_len = -1        # length of the bulk being read, -1 = header next
        self.max_bulk = max_bulk
        self.auth_required = auth_required

    def feed(self, data):
        if self.pos and self.pos > 65536 and self.pos * 2 > len(self.buf):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def pending_bytes(self):
        return len(self.buf) - self.pos

    def reserved_bytes(self):
        """What Redis's query buffer holds for the command in progress: the
        bytes not parsed yet -- at least a whole announced bulk, for which
        Redis makes room at once -- plus the arguments parsed so far
        (client eviction weighs this)."""
        n = len(self.buf) - self.pos
        if self.args is not None:
            if self.bulk_len >= 0:
                n = max(n, self.bulk_len + 2)
            n += sum(map(len, self.args))
        return n

    def at_boundary(self):
        return self.args is None and self.pos == len(self.buf)

    def gets(self):
        """The next complete command (list of bytes), [] for an empty
        command to ignore, or None when more input is needed."""
        buf = self.buf
        if self.args is None:
            if self.pos >= len(buf):
                return None
            if buf[self.pos] != 0x2A:  # not '*': inline command
                return self._inline()
            # As Redis: look for '\r', need one more byte after it (taken to be
            # '\n'), then parse.
            nl = buf.find(b"\r", self.pos)
            if nl < 0:
                if len(buf) - self.pos > INLINE_MAX:
                    raise ProtocolError("too big mbulk count string")
                return None
            if nl + 1 >= len(buf):
                return None
            count = _strict_int(buf[self.pos + 1:nl])
            if count is None or count > INT_MAX:
                raise ProtocolError("invalid multibulk length")
            if count > 10 and self.auth_required:
                raise ProtocolError("unauthenticated multibulk length")
            self.pos = nl + 2
            if count <= 0:
                return []
            self.args = []
            self.remaining = count
            self.bulk_len = -1
        while self.remaining:
            if self.bulk_len < 0:
                if self.pos >= len(buf):
                    return None
                nl = buf.find(b"\r", self.pos)
                if nl < 0:
                    if len(buf) - self.pos > INLINE_MAX:
                        raise ProtocolError("too big bulk count string")
                    return None
                if nl + 1 >= len(buf):
                    return None
                if buf[self.pos] != 0x24:  # '$'
                    raise ProtocolError("expected '$', got '%s'" % chr(buf[self.pos]))
                n = _strict_int(buf[self.pos + 1:nl])
                if n is None:
                    n = -1
                if n < 0 or n > self.max_bulk:
                    raise ProtocolError("invalid bulk length")
                if n > 16384 and self.auth_required:
                    raise ProtocolError("unauthenticated bulk length")
                self.bulk_len = n
                self.pos = nl + 2
            end = self.pos + self.bulk_len
            if len(buf) < end + 2:
                return None
            self.args.append(bytes(buf[self.pos:end]))
            self.pos = end + 2
            self.bulk_len = -1
            self.remaining -= 1
        args, self.args = self.args, None
        return args

    def _inline(self):
        buf = self.buf
        nl = buf.find(b"\n", self.pos)
        if nl >= 0 and buf.find(b"\x00", self.pos, nl) >= 0:
            # Redis looks for the newline with strchr(), which stops at a
            # NUL: a line with one is never complete (until the buffer
            # passes the inline limit).
            nl = -1
        if nl < 0:
            if len(buf) - self.pos > INLINE_MAX:
                raise ProtocolError("too big inline request")
            return None
        line = bytes(buf[self.pos:nl])
        self.pos = nl + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        args = split_args(line)
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        return args


_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b",
            ord("a"): b"\a"}
_HEX = b"0123456789abcdefABCDEF"


def split_args(line):
    """Split an inline command like Redis's sdssplitargs: spaces separate
    arguments, "double quotes" support \\n \\r \\t \\b \\a \\xHH escapes,
    'single quotes' support \\'.  None for unbalanced quotes."""
    if 0x22 not in line and 0x27 not in line and 0 not in line:
        # No quote and no NUL (where sdssplitargs stops): its split is
        # bytes.split()'s, on the same six whitespace bytes.  (Int needles:
        # a bare memchr each.)
        return line.split()
    return split_args_quoted(line)


def split_args_quoted(line):
    """split_args for lines with quotes (or NUL): sdssplitargs step by step."""
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if (c == 0x5C and i + 3 < n and line[i + 1] == ord("x")
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur += _ESCAPES.get(line[i], bytes([line[i]]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        return None  # closing quote must be followed by a space
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \t\n\r\v\f":
                    break
                if c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))
