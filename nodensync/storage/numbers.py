"""C ``long double`` arithmetic for INCRBYFLOAT and HINCRBYFLOAT.

Redis parses both operands with ``strtold`` (``string2ld``: no leading
space, the whole string consumed, no NaN, no overflow and no underflow to
zero), adds them in ``long double`` and prints the sum with ``"%.17Lf"``
before trimming trailing zeros (``ld2string(..., LD_STR_HUMAN)``).  The
printed digits depend on the platform's ``long double`` (x87 80-bit on
x86-64), so the primary backend calls the C library itself through ctypes:
``strtold`` to parse, ``fmal(a, 1, b)`` to add (a fused multiply-add with a
factor of one is exactly one correctly rounded addition) and ``strfroml``
(or ``snprintf``) to print.

Where ctypes cannot reach a real ``long double`` the fallback emulates the
x87 extended format exactly with ``fractions.Fraction``: 64-bit significand,
round-half-even, exponent range [-16382, 16383], subnormals down to
2**-16445.

Values are opaque to callers: use ``parse``, ``from_int``, ``add``,
``is_finite`` and ``human``.
"""
import ctypes
import ctypes.util
import re
from fractions import Fraction

# Redis's MAX_LONG_DOUBLE_CHARS: longer inputs are refused.
MAX_LONG_DOUBLE_CHARS = 5 * 1024

_SPACE = frozenset(b" \t\n\v\f\r")


def _trim_human(text):
    """ld2string's LD_STR_HUMAN post-processing of a "%.17Lf" text."""
    if b"." in text:
        text = text.rstrip(b"0")
        if text.endswith(b"."):
            text = text[:-1]
    if text == b"-0":
        text = b"0"
    return text


# -- ctypes backend ---------------------------------------------------------
class _LD(ctypes.c_longdouble):
    """A c_longdouble subclass: ctypes returns it as is instead of converting
    the result to a Python float (which would lose precision and range)."""
    __slots__ = ()


class CtypesLongDouble:
    """The platform's own long double through libc/libm."""

    name = "ctypes"

    def __init__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        libm_path = ctypes.util.find_library("m")
        libm = ctypes.CDLL(libm_path) if libm_path else libc
        # strtold(const char *, char **): the end pointer comes back as a
        # char* whose value is the unparsed rest of the text.
        self._strtold = libc.strtold
        self._strtold.restype = _LD
        self._strtold.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
        self._fmal = libm.fmal
        self._fmal.restype = _LD
        self._fmal.argtypes = [_LD, _LD, _LD]
        self._fmt_buf = ctypes.create_string_buffer(MAX_LONG_DOUBLE_CHARS)
        strfroml = getattr(libc, "strfroml", None)
        if strfroml is not None:
            # Not variadic, so no reliance on how ctypes passes a long
            # double through "...".
            strfroml.restype = ctypes.c_int
            strfroml.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, _LD]
            self._strfroml = strfroml
            self._fmt_f, self._fmt_e = b"%.17f", b"%.3e"
        else:
            self._strfroml = libc.snprintf
            self._strfroml.restype = ctypes.c_int
            self._fmt_f, self._fmt_e = b"%.17Lf", b"%.3Le"
        self._one = self.from_int(1)
        # Self-check: refuse a ctypes setup that cannot really compute.
        if self.human(self.add(self.parse(b"0.1"), self.parse(b"0.2"))) != b"0.3":
            raise OSError("long double arithmetic or formatting does not work")

    def _format(self, value, fmt):
        buf = self._fmt_buf
        self._strfroml(buf, MAX_LONG_DOUBLE_CHARS, fmt, value)
        return buf.value

    def parse(self, data):
        """string2ld(): the value, or None when Redis refuses the text."""
        n = len(data)
        if n == 0 or n >= MAX_LONG_DOUBLE_CHARS or data[0] in _SPACE or b"\0" in data:
            return None
        end = ctypes.c_char_p()
        ctypes.set_errno(0)
        value = self._strtold(data, ctypes.byref(end))
        if end.value:                # not all of the text was a number
            return None
        f = value.value              # as a double: cheap screening
        if f != f:
            return None              # NaN
        if f == 0.0 or f == _INF or f == -_INF:
            # Zero, subnormal, out of double range or infinite: Redis refuses
            # only overflow to HUGE_VAL and underflow to zero (ERANGE).
            if ctypes.get_errno() == 34:
                text = self._format(value, self._fmt_e).lstrip(b"-+")
                if text.startswith(b"inf") or text.startswith(b"0.0"):
                    return None
        return value

    def from_int(self, i):
        return self._strtold(b"%d" % i, None)

    def add(self, a, b):
        return self._fmal(a, self._one, b)

    def is_finite(self, value):
        text = self._format(value, self._fmt_e)
        return not (b"inf" in text or b"nan" in text)

    def human(self, value):
        """"%.17Lf" with trailing zeros trimmed; None for NaN or infinity."""
        text = self._format(value, self._fmt_f)
        if b"inf" in text or b"nan" in text:
            return None
        return _trim_human(text)


# -- exact emulation of the x87 80-bit format ------------------------------
_INF = float("inf")
_MANT_BITS = 64
_EMIN = -16382            # smallest normal exponent
_EMAX = 16383             # largest exponent
_LIMIT = Fraction(2) ** (_EMAX + 1)   # values rounding to this overflow

_DEC_RE = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z")
_HEX_RE = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?\Z")
_INF_RE = re.compile(rb"([+-]?)(?:inf|infinity)\Z", re.I)


def _round_half_even(q):
    """Nearest integer to the non-negative Fraction q, ties to even."""
    n, r = divmod(q.numerator, q.denominator)
    twice = 2 * r
    if twice > q.denominator or (twice == q.denominator and n & 1):
        n += 1
    return n


def _digits_to_int(digits):
    """int() of a decimal digit string of any length (Python limits int/str
    conversions to 4300 digits by default)."""
    if len(digits) <= 1000:
        return int(digits)
    value = 0
    for i in range(0, len(digits), 1000):
        chunk = digits[i:i + 1000]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def _int_to_digits(n):
    """Decimal text of a non-negative int of any size."""
    if n < 10 ** 1000:
        return b"%d" % n
    parts = []
    while n >= 10 ** 1000:
        n, r = divmod(n, 10 ** 1000)
        parts.append(b"%01000d" % r)
    parts.append(b"%d" % n)
    return b"".join(reversed(parts))


def _clamped_int(text):
    """An exponent; absurdly long ones are clamped (the value then over- or
    underflows either way)."""
    digits = text.lstrip(b"+-").lstrip(b"0")
    if len(digits) > 12:
        return -10 ** 12 if text.startswith(b"-") else 10 ** 12
    return int(text)


class FractionLongDouble:
    """Pure-Python x87 extended precision (64-bit significand)."""

    name = "fraction"

    @staticmethod
    def _round(q):
        """Round an exact rational to the format; +-inf on overflow."""
        if q == 0:
            return Fraction(0)
        sign = -1 if q < 0 else 1
        a = -q if q < 0 else q
        e = a.numerator.bit_length() - a.denominator.bit_length()
        # Now 2**(e-1) <= a < 2**(e+1); settle on floor(log2(a)).
        if Fraction(2) ** e > a:
            e -= 1
        e = max(e, _EMIN)
        quantum = Fraction(2) ** (e - _MANT_BITS + 1)
        r = _round_half_even(a / quantum) * quantum
        if r >= _LIMIT:
            return sign * _INF
        return sign * r

    def parse(self, data):
        n = len(data)
        if n == 0 or n >= MAX_LONG_DOUBLE_CHARS or data[0] in _SPACE:
            return None
        m = _INF_RE.match(data)
        if m:
            return -_INF if m.group(1) == b"-" else _INF
        m = _HEX_RE.match(data)
        base = 2
        if m is None:
            m = _DEC_RE.match(data)
            base = 10
            if m is None:
                return None
        sign, ip, fp, exp = m.groups()
        fp = fp or b""
        if not ip and not fp:
            return None
        digits = (ip + fp).lstrip(b"0")
        if not digits:
            return Fraction(0)
        exp = _clamped_int(exp) if exp else 0
        if base == 10:
            mant = _digits_to_int(digits)
            exp -= len(fp)
            lead = exp + len(digits) - 1        # decimal exponent of the leading digit
            if lead > 4940:
                return None                      # overflow: ERANGE with HUGE_VAL
            if lead < -4960:
                return None                      # underflow to zero: ERANGE with 0
        else:
            mant = int(digits, 16)
            exp -= 4 * len(fp)
            lead = exp + mant.bit_length() - 1  # binary exponent of the leading bit
            if lead > _EMAX + 2 or lead < _EMIN - _MANT_BITS - 2:
                return None
        v = self._round(Fraction(mant) * Fraction(base) ** exp)
        if v == 0 or isinstance(v, float):
            return None
        return -v if sign == b"-" else v

    @staticmethod
    def from_int(i):
        return FractionLongDouble._round(Fraction(i))

    def add(self, a, b):
        fa, fb = isinstance(a, float), isinstance(b, float)
        if fa or fb:                     # an infinity is involved (maybe NaN)
            return a + b if fa and fb else (a if fa else b)
        return self._round(a + b)

    @staticmethod
    def is_finite(value):
        return not isinstance(value, float) or value - value == 0

    def human(self, value):
        if isinstance(value, float):
            return None
        neg = value < 0
        a = -value if neg else value
        n = _round_half_even(a * 10 ** 17)
        ip, fp = divmod(n, 10 ** 17)
        text = b"%s%s.%017d" % (b"-" if neg else b"", _int_to_digits(ip), fp)
        return _trim_human(text)


def _select():
    try:
        if ctypes.sizeof(ctypes.c_longdouble) > ctypes.sizeof(ctypes.c_double):
            return CtypesLongDouble()
    except (OSError, AttributeError, TypeError, ValueError):
        pass
    return FractionLongDouble()


BACKEND = _select()
parse = BACKEND.parse
from_int = BACKEND.from_int
add = BACKEND.add
is_finite = BACKEND.is_finite
human = BACKEND.human
