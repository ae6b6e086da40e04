"""Per-client command rate limiting (token bucket).

``--rateLimit N`` allows each client N commands per second on average with
bursts of ``--rateBurst`` (default: N, at least 1).  In ``delay`` mode a
command over the rate waits (``gevent.sleep`` in that client's greenlet:
other clients are unaffected) until a token is available; in ``reject``
mode it fails with ``-ERR rate limit exceeded``.

Off by default (0): a limit that suits every deployment does not exist, and
a limiter makes every client take dispatch's checked path.  Replication
links are never limited; named users that may run every command (admins)
are exempt unless ``--rateLimitAdmins yes`` (the ``default`` user is always
limited: without ACL users every client is the default user).  ``--rateLimitUsers
"alice:50 batch:0"`` overrides the rate per user (0 = unlimited).

The limiter is installed on a client (``client.rate_limiter``) only while
a limit applies to it, so with the feature off no client pays anything.
"""
import time

import gevent

from ..config import declare
from ..errors import CommandError

G = "limits"
REJECT = "ERR rate limit exceeded"


def _parse_user_rates(text):
    out = {}
    for item in text.replace(",", " ").split():
        name, sep, rate = item.rpartition(":")
        if not sep or not name:
            raise ValueError("expected user:rate items, got '%s'" % item)
        try:
            value = float(rate)
        except ValueError:
            raise ValueError("bad rate '%s' for user %s" % (rate, name)) from None
        if value < 0:
            raise ValueError("rate must not be negative")
        out[name] = value
    return text


declare("rateLimit", "float", 0.0, "Commands per second allowed to each client (0 = off).",
        mutable=True, minimum=0.0, maximum=1e9, formatter=lambda v: "%.15g" % v, group=G)
declare("rateBurst", "int", 0, "Commands a client may send at once before the rate applies "
        "(0 = same as rateLimit, at least 1).", mutable=True, minimum=0, maximum=10 ** 9,
        group=G)
declare("rateLimitMode", "enum", "delay", "delay: slow the client down; reject: reply "
        "'-ERR rate limit exceeded'.", choices=["delay", "reject"], mutable=True, group=G)
declare("rateLimitAdmins", "bool", False, "Also limit users that may run every command.",
        mutable=True, group=G)
declare("rateLimitUsers", "str", "", "Per-user rates overriding rateLimit: 'user:rate ...' "
        "(0 = unlimited).", mutable=True, parser=_parse_user_rates, group=G)


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp", "reject")

    def __init__(self, rate, burst, reject):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.reject = reject

    def take(self, client):
        if client.is_master or client.is_replica:
            return
        now = time.monotonic()
        tokens = self.tokens + (now - self.stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.stamp = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return
        if self.reject:
            self.tokens = tokens
            raise CommandError(REJECT)
        wait = (1.0 - tokens) / self.rate
        self.tokens = tokens - 1.0     # the token is ours: later commands queue behind
        gevent.sleep(wait)


class RateLimits:
    def __init__(self, node):
        self.node = node
        self.user_rates = {}
        self.installed = False

    def settings(self):
        cfg = self.node.config
        rate = cfg["rateLimit"]
        burst = cfg["rateBurst"]
        return rate, burst, cfg["rateLimitMode"] == "reject"

    def active(self):
        return self.node.config["rateLimit"] > 0 or any(self.user_rates.values())

    def rate_for(self, client):
        cfg = self.node.config
        user = getattr(client, "acl_user", None)
        name = client.user
        if name in self.user_rates:
            return self.user_rates[name]
        if (user is not None and user.allcommands and name != "default"
                and not cfg["rateLimitAdmins"]):
            return 0.0
        return cfg["rateLimit"]

    def apply(self, client):
        """(Re)install or remove the client's limiter for its current user."""
        rate = self.rate_for(client)
        if rate <= 0:
            if client.rate_limiter is not None:
                client.rate_limiter = None
            return
        _, burst, reject = self.settings()
        burst = burst or max(1, int(rate))
        lim = client.rate_limiter
        if lim is not None and lim.rate == rate and lim.burst == burst and lim.reject == reject:
            return
        client.rate_limiter = TokenBucket(rate, burst, reject)

    def on_open(self, client):
        if self.active():
            self.apply(client)

    def on_login(self, client):
        if self.active() or client.rate_limiter is not None:
            self.apply(client)

    def reconfigure(self, _value=None):
        text = self.node.config["rateLimitUsers"]
        rates = {}
        for item in text.replace(",", " ").split():
            name, _, rate = item.rpartition(":")
            rates[name] = float(rate)
        self.user_rates = rates
        for c in list(self.node.clients.values()):
            self.apply(c)


def attach(node):
    limits = RateLimits(node)
    node.rate_limits = limits
    limits.reconfigure()
    node.client_open_hooks.append(limits.on_open)
    acl = getattr(node, "acl", None)
    if acl is not None:
        acl.login_hooks.append(limits.on_login)
    for name in ("rateLimit", "rateBurst", "rateLimitMode", "rateLimitAdmins", "rateLimitUsers"):
        node.config.on_change(name, limits.reconfigure)
