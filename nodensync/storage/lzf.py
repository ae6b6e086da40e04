"""LZF, the compression Redis uses for strings in RDB files and DUMP payloads.

``decompress`` reads any valid LZF stream.  ``compress`` produces the bytes
Redis 7.0 produces: Redis bundles liblzf with a slightly stricter "does
the output still fit" test than liblzf 3.6, so near the size limit the two
disagree on whether a string is worth compressing.  The C binding
(``python-neo-lzf``/``python-lzf``, module ``lzf``) does the work when it
is installed; when its result is within a few bytes of the limit, the
pure-Python port of Redis's variant decides, so the output (and therefore
DUMP payloads and RDB files) is byte-identical to Redis's.  Without the C
binding everything runs in pure Python (about 1 MB/s).
"""
try:  # pragma: no cover - depends on the environment
    import lzf as _c
    _c_compress = _c.compress
    _c_decompress = _c.decompress
except Exception:
    _c = None

FAST = _c is not None
_M32 = 0xFFFFFFFF
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


class LZFError(ValueError):
    """A corrupt LZF stream."""


def compress(data, max_len):
    """LZF-compress ``data`` into at most ``max_len`` bytes, or None when it
    does not fit (Redis's rule: compressed only if it saves 4+ bytes, the
    caller passes ``len(data) - 4``)."""
    if max_len <= 0 or not data:
        return None
    if _c is not None:
        out = _c_compress(bytes(data), max_len)
        if out is None:
            return None
        if len(out) + 5 <= max_len:
            return out
    return compress_py(data, max_len)


def compress_py(d, out_len):
    """Pure-Python LZF compression following Redis's bundled liblzf
    (HLOG 16, VERY_FAST, deterministic hash table)."""
    in_len = len(d)
    if not in_len or out_len <= 0:
        return None
    d = bytes(d)
    out = bytearray(out_len + 8)
    htab = {}
    op = 1
    lit = 0
    ip = 0
    hval = (d[0] << 8) | (d[1] if in_len > 1 else 0)
    end2 = in_len - 2
    while ip < end2:
        hval = ((hval << 8) | d[ip + 2]) & _M32
        slot = ((hval >> 8) - hval * 5) & 0xFFFF
        ref = htab.get(slot)
        htab[slot] = ip
        if (ref is not None and ref > 0 and ip - ref - 1 < _MAX_OFF
                and d[ref] == d[ip] and d[ref + 1] == d[ip + 1] and d[ref + 2] == d[ip + 2]):
            off = ip - ref - 1
            length = 2
            maxlen = in_len - ip - 2
            if maxlen > _MAX_REF:
                maxlen = _MAX_REF
            out[op - lit - 1] = (lit - 1) & 0xFF   # stop the literal run
            if not lit:
                op -= 1                           # undo an empty run
            if op + 4 >= out_len:
                return None
            done = False
            if maxlen > 16:
                for _ in range(16):
                    length += 1
                    if d[ref + length] != d[ip + length]:
                        done = True
                        break
            if not done:
                while True:
                    length += 1
                    if not (length < maxlen and d[ref + length] == d[ip + length]):
                        break
            length -= 2
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 2                               # and start a new run
            lit = 0
            ip += length + 1
            if ip >= end2:
                break
            ip -= 2
            hval = (d[ip] << 8) | d[ip + 1]
            hval = ((hval << 8) | d[ip + 2]) & _M32
            htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
            ip += 1
            hval = ((hval << 8) | d[ip + 2]) & _M32
            htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
            ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = d[ip]
            op += 1
            ip += 1
            if lit == 32:
                out[op - lit - 1] = 31
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < in_len:
        lit += 1
        out[op] = d[ip]
        op += 1
        ip += 1
        if lit == 32:
            out[op - lit - 1] = 31
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    if not lit:
        op -= 1
    return bytes(out[:op])


def decompress(data, expected_len):
    """Decompress an LZF stream that must expand to exactly
    ``expected_len`` bytes; LZFError otherwise."""
    if expected_len == 0:
        if len(data):
            raise LZFError("LZF data for an empty string")
        return b""
    if _c is not None:
        try:
            out = _c_decompress(bytes(data), expected_len)
        except Exception:
            out = None
        if out is None or len(out) != expected_len:
            raise LZFError("invalid LZF data")
        return out
    return decompress_py(data, expected_len)


def decompress_py(data, expected_len):
    d = bytes(data)
    n = len(d)
    out = bytearray()
    ip = 0
    while ip < n:
        ctrl = d[ip]
        ip += 1
        if ctrl < 32:
            ln = ctrl + 1
            if ip + ln > n or len(out) + ln > expected_len:
                raise LZFError("invalid LZF data")
            out += d[ip:ip + ln]
            ip += ln
        else:
            ln = ctrl >> 5
            if ln == 7:
                if ip >= n:
                    raise LZFError("invalid LZF data")
                ln += d[ip]
                ip += 1
            if ip >= n:
                raise LZFError("invalid LZF data")
            ref = len(out) - ((ctrl & 0x1F) << 8) - d[ip] - 1
            ip += 1
            ln += 2
            if ref < 0 or len(out) + ln > expected_len:
                raise LZFError("invalid LZF data")
            if ref + ln <= len(out):
                out += out[ref:ref + ln]
            else:
                for i in range(ln):
                    out.append(out[ref + i])
    if len(out) != expected_len:
        raise LZFError("invalid LZF data")
    return bytes(out)
