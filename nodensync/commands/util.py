"""Argument parsing shared by command handlers, with Redis's exact rules."""
import math
import re
from functools import lru_cache

from .. import errors
from ..errors import CommandError
from ..storage.compact import canonical_int as try_int   # noqa: F401 (the commands' name)

def _error(message):
    # A fresh exception per raise: re-raising one shared instance makes its
    # __traceback__ grow with every raise and keeps those frames alive.
    return CommandError(message)
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def option_word(arg):
    """An option word as Redis compares it (strcasecmp): case-insensitively
    and as a C string, ending at the first NUL byte."""
    i = arg.find(b"\0")
    return (arg if i < 0 else arg[:i]).upper()


def parse_int(b, error=None):
    """A signed 64-bit integer written canonically (Redis's string2ll: no
    spaces, '+', leading zeros or '-0')."""
    try:
        v = int(b)
    except (ValueError, TypeError):
        raise (error or _error(errors.NOT_INTEGER)) from None
    if not _INT64_MIN <= v <= _INT64_MAX or b"%d" % v != b:
        raise error or _error(errors.NOT_INTEGER)
    return v


_INT_RANGE = ("ERR value is out of range, value must between -2147483648 and "
              "2147483647")


def parse_int32(b, message=None):
    """Redis's getIntFromObjectOrReply: a canonical integer within 32 bits;
    ``message`` (when given) is the error for anything else, else Redis's
    not-an-integer and out-of-range texts."""
    v = parse_int(b, _error(message) if message else None)
    if not -(1 << 31) <= v < (1 << 31):
        raise _error(message or _INT_RANGE)
    return v


def parse_nonneg(b, message):
    v = parse_int(b)
    if v < 0:
        raise CommandError(message)
    return v


_FLOAT_OK = re.compile(rb"^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|infinity)$", re.I)


def parse_float(b, error=None, allow_nan=False):
    """A double as Redis's strtod-based parsing accepts it: no spaces,
    'inf'/'-inf' allowed, NaN refused."""
    if not _FLOAT_OK.match(b):
        raise error or _error(errors.NOT_FLOAT)
    v = float(b)
    if math.isnan(v) and not allow_nan:
        raise error or _error(errors.NOT_FLOAT)
    return v


def parse_timeout_ms(b, unit_seconds=True):
    """A blocking-command timeout (seconds, may be fractional) -> ms."""
    try:
        v = float(b) if unit_seconds else int(b)
    except ValueError:
        raise CommandError("ERR timeout is not a float or out of range") from None
    if math.isnan(v) or math.isinf(v):
        raise CommandError("ERR timeout is not a float or out of range")
    if v < 0:
        raise CommandError("ERR timeout is negative")
    return int(v * 1000) if unit_seconds else v


_SIGNED = [v if v < 128 else v - 256 for v in range(256)]


def _glob_tokens(pattern):
    """Redis's stringmatchlen() pattern as tokens: None for a run of ``*``,
    else the regex of one token (every token but ``*`` consumes exactly one
    byte, so the translation is exact): ``?`` -> ``.``, ``\\x`` -> x (a
    trailing lone backslash is literal), ``[...]`` -> the set of bytes Redis's
    class loop accepts: ``^`` negates, ``\\x`` escapes, ``a-z`` is a range
    whenever two more bytes follow the start (``]`` included, ends swapped
    when reversed, bytes compared as signed C chars), ``]`` right after ``[``
    closes an empty class, an unclosed class ends the pattern."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:                       # *
            while i + 1 < n and pattern[i + 1] == 0x2A:
                i += 1
            out.append(None)
        elif c == 0x3F:                     # ?
            out.append(b".")
        elif c == 0x5B:                     # [
            i += 1
            negate = i < n and pattern[i] == 0x5E
            if negate:
                i += 1
            members = set()
            while True:
                if i < n and pattern[i] == 0x5C and n - i >= 2:
                    i += 1
                    members.add(pattern[i])
                elif i < n and pattern[i] == 0x5D:
                    break
                elif i >= n:
                    i -= 1                  # unclosed: the class ends the pattern
                    break
                elif n - i >= 3 and pattern[i + 1] == 0x2D:
                    # C compares (signed) chars: 0x80-0xff sort below 0x00
                    lo, hi = _SIGNED[pattern[i]], _SIGNED[pattern[i + 2]]
                    if lo > hi:
                        lo, hi = hi, lo
                    members.update(v & 0xFF for v in range(lo, hi + 1))
                    i += 2
                else:
                    members.add(pattern[i])
                i += 1
            if negate:
                members = set(range(256)) - members
            if not members:
                out.append(b"(?!)")
            elif len(members) == 256:
                out.append(b".")
            else:
                out.append(b"[" + b"".join(b"\\x%02x" % m for m in sorted(members)) + b"]")
        else:
            if c == 0x5C and i + 1 < n:     # backslash escape
                i += 1
                c = pattern[i]
            out.append(b"\\x%02x" % c)
        i += 1
    return out


@lru_cache(maxsize=1024)
def _glob_regex(pattern):
    """A predicate ``subject -> truthy`` equivalent to Redis's
    stringmatchlen() for ``pattern`` on a whole subject.

    With at most one ``*`` it is one regex.  With more, a regex would
    backtrack exponentially (``a*a*a*...b`` against a long run of ``a``:
    Redis 7.0.15 guards the same case in stringmatchlen), so the fixed-length
    pieces between the stars are matched in turn: the first at the start,
    the last at the end, each middle one at its leftmost place after the
    previous (leaving the most room for the rest, which is exact)."""
    tokens = _glob_tokens(pattern)
    stars = tokens.count(None)
    if stars <= 1:
        return re.compile(b"".join(b".*" if t is None else t for t in tokens),
                          re.DOTALL).fullmatch
    pieces = [[]]
    for t in tokens:
        if t is None:
            pieces.append([])
        else:
            pieces[-1].append(t)
    head, middle, tail = pieces[0], pieces[1:-1], pieces[-1]
    head_re = re.compile(b"".join(head), re.DOTALL).match if head else None
    tail_re = re.compile(b"".join(tail), re.DOTALL).fullmatch if tail else None
    middle = [re.compile(b"".join(m), re.DOTALL).search for m in middle if m]
    nhead, ntail = len(head), len(tail)
    minimum = nhead + ntail + sum(len(m) for m in pieces[1:-1])

    def match(s):
        n = len(s)
        if n < minimum:
            return None
        if head_re is not None and head_re(s) is None:
            return None
        end = n - ntail
        if tail_re is not None and tail_re(s, end) is None:
            return None
        pos = nhead
        for search in middle:
            m = search(s, pos, end)
            if m is None:
                return None
            pos = m.end()
        return True
    return match


def redis_glob_matcher(pattern):
    """A predicate ``subject -> bool`` with Redis's glob rules exactly
    (stringmatchlen), including that a non-empty pattern never matches the
    empty string (callers treat a lone ``*`` as "everything" first)."""
    if not pattern:
        return lambda s: not s
    match = _glob_regex(pattern)
    return lambda s: bool(s) and match(s) is not None


def redis_glob_filter(pattern):
    """A function ``keys -> [matching keys]`` with redis_glob_matcher's
    rules.  When the pattern is one regex (at most one ``*``) ``filter``
    calls the compiled regex directly, with no Python call per key: KEYS
    over a big database runs about twice as fast."""
    match = _glob_regex(pattern) if pattern else None
    if isinstance(getattr(match, "__self__", None), re.Pattern):
        # only the (few) matches pass through Python; the empty key never matches
        return lambda keys: [k for k in filter(match, keys) if k]
    match = redis_glob_matcher(pattern)
    return lambda keys: [k for k in keys if match(k)]


def glob_match(pattern, subject):
    """Redis's stringmatchlen(): * ? [abc] [^a] [a-z] and \\ escapes."""
    return glob_matcher(pattern)(subject)


def glob_matcher(pattern):
    """A fast predicate for repeated matching of one pattern (Redis's rules;
    a lone ``*`` matches everything, the empty string included)."""
    if pattern == b"*":
        return lambda s: True
    return redis_glob_matcher(pattern)


# -- strings whose Redis encoding their bytes do not tell --------------------------
# APPEND to an existing string and SETRANGE leave Redis's value a modifiable
# (raw) sds whatever its length or content, INCRBYFLOAT stores its printed
# result as a plain string object (embstr up to 44 bytes) and COPY gives
# the copy an object of its own, so OBJECT ENCODING says "raw" or "embstr"
# where a SET of the same bytes gives "int", and OBJECT REFCOUNT 1 where a
# SET would give a shared integer.  Only strings of up to 44 bytes need a
# mark (longer ones are "raw" and never shared whatever made them).  The
# marks live in ``Database.marks``: key -> (the stored bytes object, its
# encoding).  The mark holds the object, so no other object can take its
# identity, and a later write of the key stores another object: the mark
# no longer matches.  (A one-byte value is stored as an object of its own:
# CPython shares one-byte bytes objects, so a later SET of the same byte
# would store the very object marked.  The empty string cannot be copied --
# CPython has one b"" -- so ``Database.set``, SET and FLUSHDB drop a mark
# when they store b"" at its key or empty the database: APPEND of "" to an
# empty string leaves it "raw" in Redis, a SET of "" is "embstr" again.)
_MARK_LIMIT = 10000
_MARKED_MAX_LEN = 44


def mark_raw_string(db, key, value, encoding=b"raw"):
    """Remember ``encoding`` for the bytes ``value`` just stored at key."""
    n = len(value)
    if n > _MARKED_MAX_LEN:
        return
    if n == 1:
        value = db.data[key] = value[0].to_bytes(1, "big")    # (not the shared object)
    marks = db.marks
    if len(marks) >= _MARK_LIMIT:
        del marks[next(iter(marks))]
    marks[key] = (value, encoding)


def mark_plain_string(db, key, value):
    """A string stored as Redis's createStringObject stores it, without
    trying the int encoding (INCRBYFLOAT)."""
    mark_raw_string(db, key, value, b"embstr")


def store_raw_string(db, key, buf, event=None, dirty=1, changed=True):
    """Store a string built in place (SETBIT, BITFIELD, PFADD ...) as bytes:
    the key keeps its TTL, and OBJECT ENCODING says raw, as Redis's
    dbUnshareStringValue leaves it.  Calls ``db.modified`` (with ``event``
    and ``dirty``) when ``changed``."""
    new = bytes(buf)
    if key in db.data:
        db.data[key] = new
    else:
        db.set(key, new)
    if changed:
        db.modified(key, event, "$", dirty=dirty)
    mark_raw_string(db, key, new)


def carry_mark(src_db, src_key, dst_db, dst_key, value):
    """RENAME/MOVE: the object keeps its encoding under its new name."""
    if type(value) is bytes:
        marked = marked_encoding(src_db, src_key, value)
        if marked is not None:
            mark_raw_string(dst_db, dst_key, value, marked)


def marked_encoding(db, key, value):
    """The encoding marked for the bytes ``value`` stored at ``key``, or None."""
    mark = db.marks.get(key)
    if mark is not None and mark[0] is value:
        return mark[1]
    return None


# The smallest reply element: an empty bulk string ($0\r\n\r\n).
_MIN_ELEMENT = 6


def reply_surely_over_limit(ctx, elements):
    """A reply of ``elements`` elements to be made: True (the client is
    closed; reply NO_REPLY) when even at the smallest size they pass the
    client's hard output limit -- Redis stops such a command mid-run as its
    client is closed, instead of building a reply that can never be sent."""
    check = getattr(ctx, "reply_over_limit", None)
    return check is not None and check(elements * _MIN_ELEMENT)
