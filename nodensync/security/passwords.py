"""Password storage: salted slow hashes at rest, Redis's ``#<sha256>`` accepted.

A user's password list holds *entries* (strings), one per password:

``<64 lowercase hex>``
    Redis's form: the unsalted SHA-256 of the password.  Accepted from ACL
    files written by Redis and from ``#<hash>`` rules; also what ``>pass``
    produces when ``aclPasswordHash`` is ``sha256`` (byte-compatible with
    Redis, weaker at rest).
``scrypt$<N>$<r>$<p>$<salt hex>$<hash hex>``
    The default for ``>pass``: scrypt with a random 16-byte salt.
``pbkdf2$<iterations>$<salt hex>$<hash hex>``
    PBKDF2-HMAC-SHA256, for platforms whose OpenSSL lacks scrypt.

Slow hashes are computed in gevent's thread pool (``off_loop``): hashlib
releases the GIL while hashing, so a login never stalls other clients.
Comparisons use ``hmac.compare_digest``.
"""
import hashlib
import hmac
import os
import re

SCRYPT_N = 1 << 14          # ~45 ms and 16 MiB per hash on the reference machine
SCRYPT_R = 8
SCRYPT_P = 1
PBKDF2_ITERATIONS = 200000
SALT_BYTES = 16
ALGORITHMS = ("scrypt", "pbkdf2", "sha256")

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SCRYPT_RE = re.compile(r"^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([0-9a-f]{2,128})\$([0-9a-f]{32,128})$")
_PBKDF2_RE = re.compile(r"^pbkdf2\$(\d{1,9})\$([0-9a-f]{2,128})\$([0-9a-f]{32,128})$")


def sha256_hex(password):
    return hashlib.sha256(password).hexdigest()


def is_sha256_entry(text):
    return _SHA256_RE.match(text) is not None


def is_entry(text):
    """True if ``text`` is a stored password entry (any supported form)."""
    return bool(_SHA256_RE.match(text) or _SCRYPT_RE.match(text) or _PBKDF2_RE.match(text))


def is_slow(entry):
    return not _SHA256_RE.match(entry)


_SLOTS = []


def off_loop(fn, *args):
    """Run ``fn(*args)`` in gevent's thread pool (the calling greenlet waits,
    the others run on).  At most cores-1 hashes run at once, so a burst of
    logins never takes the CPU the event loop needs; the rest queue."""
    try:
        import gevent
        from gevent.lock import BoundedSemaphore
    except ImportError:  # pragma: no cover - no gevent
        return fn(*args)
    if not _SLOTS:
        _SLOTS.append(BoundedSemaphore(max(1, (os.cpu_count() or 2) - 1)))
    with _SLOTS[0]:
        return gevent.get_hub().threadpool.apply(fn, args)


def _scrypt(password, salt, n, r, p):
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p,
                          maxmem=max(64 * 1024 * 1024, 2 * 128 * r * n * p), dklen=32)


def _pbkdf2(password, salt, iterations):
    return hashlib.pbkdf2_hmac("sha256", password, salt, iterations)


def make_entry(password, algorithm="scrypt"):
    """The stored entry for a new password (slow hashing off the loop)."""
    if algorithm == "sha256":
        return sha256_hex(password)
    salt = os.urandom(SALT_BYTES)
    if algorithm == "pbkdf2":
        digest = off_loop(_pbkdf2, password, salt, PBKDF2_ITERATIONS)
        return "pbkdf2$%d$%s$%s" % (PBKDF2_ITERATIONS, salt.hex(), digest.hex())
    digest = off_loop(_scrypt, password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "scrypt$%d$%d$%d$%s$%s" % (SCRYPT_N, SCRYPT_R, SCRYPT_P, salt.hex(), digest.hex())


def verify(password, entry):
    """True if ``password`` (bytes) matches the stored ``entry``."""
    if _SHA256_RE.match(entry):
        return hmac.compare_digest(sha256_hex(password), entry)
    m = _SCRYPT_RE.match(entry)
    if m:
        n, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if n < 2 or n & (n - 1) or n > (1 << 20) or not 1 <= r <= 32 or not 1 <= p <= 16:
            return False
        try:
            digest = off_loop(_scrypt, password, bytes.fromhex(m.group(4)), n, r, p)
        except (ValueError, MemoryError):
            return False
        return hmac.compare_digest(digest.hex(), m.group(5))
    m = _PBKDF2_RE.match(entry)
    if m:
        iterations = int(m.group(1))
        if not 1 <= iterations <= 10 ** 8:
            return False
        digest = off_loop(_pbkdf2, password, bytes.fromhex(m.group(2)), iterations)
        return hmac.compare_digest(digest.hex(), m.group(3))
    return False
