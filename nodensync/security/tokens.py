"""Session tokens: ``ACL TOKEN CREATE [ttl]`` gives the calling user a
random token usable as ``AUTH <user> <token>`` from another connection until
it expires or is revoked.

A token is ``<id>.<secret>``: ``id`` (16 hex characters) names it in
``ACL TOKEN LIST`` / ``REVOKE``; ``secret`` is 256 random bits
(``secrets.token_urlsafe``).  Only the SHA-256 of the secret is kept (a
256-bit random secret needs no slow hash), in memory: tokens do not survive
a restart.  Revoking a token, its expiry, or deleting / disabling its user
closes every connection that authenticated with it.
"""
import hashlib
import hmac
import secrets
import time

import gevent

DEFAULT_TTL = 3600
MAX_TTL = 30 * 86400
MAX_TOKENS = 100000


class Token:
    __slots__ = ("id", "user", "digest", "created", "expires")

    def __init__(self, tid, user, digest, created, expires):
        self.id = tid
        self.user = user
        self.digest = digest
        self.created = created
        self.expires = expires


class TokenStore:
    def __init__(self, node):
        self.node = node
        self.tokens = {}          # id -> Token
        self.reaper = None

    def create(self, user_name, ttl=DEFAULT_TTL):
        """A new token for ``user_name``; returns the token text (bytes)."""
        self.expire()
        if len(self.tokens) >= MAX_TOKENS:
            raise OverflowError("too many tokens")
        tid = secrets.token_hex(8)
        while tid in self.tokens:
            tid = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = time.time()
        self.tokens[tid] = Token(tid, user_name, hashlib.sha256(secret.encode()).digest(),
                                 now, now + ttl)
        if self.reaper is None or self.reaper.dead:
            self.reaper = gevent.spawn(self._reap)
        return ("%s.%s" % (tid, secret)).encode()

    def match(self, user, password):
        """The id of the live token ``password`` is for ``user``, or None."""
        if len(password) < 40 or password[16:17] != b".":
            return None
        tid = password[:16].decode("latin-1")
        tok = self.tokens.get(tid)
        if tok is None or tok.user != user.name:
            return None
        if tok.expires <= time.time():
            return None
        digest = hashlib.sha256(password[17:]).digest()
        if not hmac.compare_digest(digest, tok.digest):
            return None
        return tid

    def list(self, user_name=None):
        now = time.time()
        out = []
        for tok in sorted(self.tokens.values(), key=lambda t: t.created):
            if tok.expires <= now or (user_name is not None and tok.user != user_name):
                continue
            sessions = sum(1 for c in self.node.clients.values()
                           if getattr(c, "token_id", None) == tok.id)
            out.append((tok, sessions))
        return out

    def get(self, tid):
        return self.tokens.get(tid)

    def revoke(self, tid, requester=None):
        """Forget a token and close its sessions; False if unknown."""
        tok = self.tokens.pop(tid, None)
        if tok is None:
            return False
        self.close_sessions(tid, requester)
        return True

    def revoke_user(self, user_name, requester=None):
        for tid in [t.id for t in self.tokens.values() if t.user == user_name]:
            self.revoke(tid, requester)

    def close_sessions(self, tid, requester=None):
        acl = self.node.acl
        for c in list(self.node.clients.values()):
            if getattr(c, "token_id", None) == tid:
                acl._drop_client(c, requester)

    def expire(self):
        now = time.time()
        for tid in [t.id for t in self.tokens.values() if t.expires <= now]:
            self.revoke(tid)

    def _reap(self):
        while self.tokens:
            gevent.sleep(1.0)
            try:
                self.expire()
            except Exception:  # pragma: no cover - never let the reaper die silently
                import logging
                logging.getLogger("nodensync.acl").exception("token expiry failed")
        self.reaper = None
