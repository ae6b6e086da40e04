"""Long double parsing, addition and "%.17Lf" printing (INCRBYFLOAT,
HINCRBYFLOAT).  Expected texts were produced by Redis 7.0.15 on x86-64
(x87 80-bit long double)."""
import os
import random
import sys

import pytest
from hypothesis import given, settings, strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from nodensync.storage import numbers  # noqa: E402

BACKENDS = [numbers.FractionLongDouble()]
try:
    BACKENDS.insert(0, numbers.CtypesLongDouble())
except (OSError, AttributeError, TypeError, ValueError):
    pass
HAVE_CTYPES = BACKENDS[0].name == "ctypes"

# (stored value, increment, Redis's reply)
REDIS_SUMS = [
    ("0", "0.000003814697265625", "0.00000381469726562"),   # exact tie: half-even
    ("0", "0.000011444091796875", "0.00001144409179688"),
    ("10.5", "0.1", "10.6"),
    ("1.5", "0x10", "17.5"),
    ("0.1", "0.2", "0.3"),
    ("1", "1e-17", "1.00000000000000001"),
    ("1", "5e-18", "1"),
    ("-1e-30", "0", "0"),                                    # "-0" is printed "0"
    ("3", "-3", "0"),
    ("9223372036854775807", "1", "9223372036854775808"),
    ("1e20", "0.5", "100000000000000000000"),
    ("123456789.123456789", "0.000000001", "123456789.12345678999554366"),
    ("0x1p-16445", "0", "0"),                                # smallest subnormal
    ("-2.5", "0.00000000000000001", "-2.49999999999999999"),
    ("1e-18", "0", "0"),
    ("-5e-18", "0", "0"),
    ("5.5e-18", "0", "0.00000000000000001"),
    ("1.00000000000000005", "0", "1.00000000000000005"),
    ("3.0e3", "1.18e4932", "118000000000000000000065281291809369920269043714016047172983124"),
]

REFUSED = [b"", b" 1", b"\t1", b"1 ", b"abc", b"nan", b"-nan", b"NAN(123)", b"1\x00", b"1e",
           b"e5", b"--1", b"1.2.3", b"0x", b"inf1", b".", b"+", b"-", b"1e5000", b"-1e5000",
           b"1e-5000", b"1.19e4932", b"0x1p16384", b"0x1p-16500", b"0." + b"1" * 5118,
           b"1" * 5000]

ACCEPTED = [b"0", b"-0", b"1", b"+1", b".5", b"5.", b"1e-4940", b"0x10", b"0X1P-3", b"0x.8",
            b"1E3", b"00012", b"0e99999999999999999999", b"0." + b"1" * 5117, b"inf", b"-Infinity",
            b"1.18e4932", b"0x1.fffffffffffffffep16383"]


def ids(backends):
    return [b.name for b in backends]


@pytest.mark.parametrize("ld", BACKENDS, ids=ids(BACKENDS))
@pytest.mark.parametrize("stored,incr,expected", REDIS_SUMS)
def test_redis_sums(ld, stored, incr, expected):
    got = ld.human(ld.add(ld.parse(stored.encode()), ld.parse(incr.encode())))
    assert got.startswith(expected.encode())
    if len(expected) < 60:
        assert got == expected.encode()


@pytest.mark.parametrize("ld", BACKENDS, ids=ids(BACKENDS))
def test_refused_and_accepted(ld):
    for text in REFUSED:
        assert ld.parse(text) is None, text[:40]
    for text in ACCEPTED:
        assert ld.parse(text) is not None, text[:40]


@pytest.mark.parametrize("ld", BACKENDS, ids=ids(BACKENDS))
def test_infinity_and_overflow(ld):
    inf = ld.parse(b"inf")
    assert not ld.is_finite(inf)
    assert ld.human(ld.add(ld.parse(b"1"), inf)) is None
    assert ld.human(ld.add(inf, ld.parse(b"-inf"))) is None          # NaN
    big = ld.parse(b"1.18e4932")
    assert ld.is_finite(big)
    assert ld.human(ld.add(big, big)) is None                         # overflow
    assert ld.is_finite(ld.from_int(0))
    top = ld.human(ld.parse(b"0x1.fffffffffffffffep16383"))
    assert top.startswith(b"118973149535723176502126385303097020516906332229462420044")
    assert len(top) == 4933


@pytest.mark.parametrize("ld", BACKENDS, ids=ids(BACKENDS))
def test_from_int(ld):
    for i in (0, 1, -1, 2 ** 63 - 1, -2 ** 63, 10 ** 18 + 1):
        assert ld.human(ld.from_int(i)) == b"%d" % i


@pytest.mark.skipif(not HAVE_CTYPES, reason="no C long double through ctypes")
def test_backends_agree_on_random_inputs():
    c, f = BACKENDS[0], BACKENDS[-1]
    rnd = random.Random(1234)

    def text():
        k = rnd.random()
        if k < 0.3:
            return b"%.*f" % (rnd.randint(0, 25), rnd.uniform(-1e9, 1e9))
        if k < 0.5:
            return b"%de%d" % (rnd.randint(-10 ** 6, 10 ** 6), rnd.randint(-4960, 4940))
        if k < 0.7:
            return b"%.20g" % rnd.uniform(-1, 1)
        if k < 0.85:
            return b"0x%xp%d" % (rnd.getrandbits(rnd.randint(1, 80)), rnd.randint(-16500, 16400))
        return b"%d" % rnd.randint(-2 ** 70, 2 ** 70)

    for _ in range(400):
        a, b = text(), text()
        pa, pb = c.parse(a), c.parse(b)
        assert (pa is None) == (f.parse(a) is None), a
        assert (pb is None) == (f.parse(b) is None), b
        if pa is None or pb is None:
            continue
        assert c.human(pa) == f.human(f.parse(a)), a
        assert c.human(c.add(pa, pb)) == f.human(f.add(f.parse(a), f.parse(b))), (a, b)


@pytest.mark.skipif(not HAVE_CTYPES, reason="no C long double through ctypes")
@settings(max_examples=40, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False,
                                                                    allow_infinity=False))
def test_backends_agree_on_doubles(x, y):
    c, f = BACKENDS[0], BACKENDS[-1]
    a, b = repr(x).encode(), repr(y).encode()
    assert c.human(c.add(c.parse(a), c.parse(b))) == f.human(f.add(f.parse(a), f.parse(b)))


def test_module_functions_use_a_backend():
    assert numbers.BACKEND.name in ("ctypes", "fraction")
    assert numbers.human(numbers.add(numbers.parse(b"10.5"), numbers.parse(b"0.1"))) == b"10.6"
