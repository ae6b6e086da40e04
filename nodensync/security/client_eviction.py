"""Client eviction (Redis 7.0's ``maxmemory-clients``).

When the memory of all normal and pub/sub clients together reaches the
limit, the clients using the most are disconnected, largest first, until
the total is below it again -- so that many clients, or a few with huge
query or output buffers, cannot take the server down.  Replicas and the
master are never evicted, nor clients that ran ``CLIENT NO-EVICT on``
(their memory still counts in the total).  The limit is bytes (Redis units)
or a percentage of ``maxmemory``; 0 turns eviction off.

What a client uses is what CLIENT LIST shows as ``tot-mem``
(``Client.memory_usage``, the figure INFO's mem_clients_normal and
maxmemory sum too): its connection's fixed cost, the query buffer, the
arguments of the command it runs, queued output, its MULTI queue and
WATCHed keys, its pub/sub subscriptions and tracking prefixes.

Like Redis, the figures are kept per client and summed incrementally: a
client's figure is brought up to date after each of its reads (the query
buffer, MULTI, WATCH, SUBSCRIBE ... all change there), when its output
queue grows, on CLIENT NO-EVICT, and for every client a few times a second
(output that drained, clients that run nothing); eviction is checked each
time.  Nothing of this runs while the limit is 0.
"""
import logging

import gevent

from ..config import ConfigError, declare, redis_int, redis_memory

log = logging.getLogger("nodensync.memory")


def parse_limit(text):
    """Redis's MEMORY_CONFIG | PERCENT_CONFIG parsing: memtoull first
    (``1mb`` -> bytes), else ``<n>%`` (string2ll, n >= 0) stored as -n."""
    try:
        return redis_memory(text)
    except (ValueError, ConfigError):
        pass
    pct = None
    if len(text) > 1 and text.endswith("%"):
        try:
            pct = redis_int(text[:-1])
        except (ValueError, ConfigError):
            pct = None
    if pct is None or pct < 0:
        raise ValueError("argument must be a memory or percent value")
    if pct > 100:
        raise ValueError("percentage argument must be less or equal to 100")
    return -pct


def format_limit(value):
    return "%d%%" % -value if value < 0 else str(value)


declare("maxmemoryClients", "string", 0,
        "Memory all normal and pub/sub clients may use together before the largest are "
        "disconnected: bytes (Redis units), a percentage of maxmemory ('10%'), or 0 (off).",
        redis="maxmemory-clients", mutable=True, group="limits",
        parser=parse_limit, formatter=format_limit)

REFRESH_S = 0.1             # every client's figure brought up to date this often


def evictable_type(c):
    """Normal and pub/sub clients (MONITOR included), not replicas or the master."""
    return not (c.is_replica or c.is_master)


class ClientEviction:
    """``node.client_eviction`` while maxmemory-clients is set."""

    def __init__(self, node):
        self.node = node
        self.total = 0              # sum of the counted figures of normal and pub/sub clients
        self.counted = {}           # client -> the figure counted in ``total``
        self.refresher = None
        self.warned = False

    def limit(self):
        value = self.node.config["maxmemoryClients"]
        if value < 0:
            return self.node.config["maxmemory"] * -value // 100
        return value

    # -- accounting ---------------------------------------------------------------
    def update(self, client, evict=True):
        """Bring ``client``'s figure up to date, then evict if over the limit."""
        if client.closing:
            self.forget(client)
            return
        new = client.memory_usage(live=False) if evictable_type(client) else 0
        self.total += new - self.counted.get(client, 0)
        self.counted[client] = new
        if evict and self.total >= self.limit() > 0:
            self.evict()

    def forget(self, client):
        self.total -= self.counted.pop(client, 0)

    def refresh(self):
        for c in list(self.node.clients.values()):
            self.update(c, evict=False)        # (a released client: the close hook forgot it)
        if self.total >= self.limit() > 0:
            self.evict()

    def evict(self):
        """Disconnect the largest evictable clients until below the limit
        (Redis's evictClients)."""
        limit = self.limit()
        while self.total >= limit > 0:
            victim, size = None, -1
            for c, n in self.counted.items():
                if n > size and not c.no_evict and not c.closing and evictable_type(c):
                    victim, size = c, n
            if victim is None:
                if not self.warned:
                    log.warning("Over client maxmemory after evicting all evictable clients")
                    self.warned = True
                return
            self.warned = False
            log.info("Evicting client: %s", victim.info_line())
            self.node.stats.evicted_clients += 1
            self.forget(victim)
            victim.close()

    # -- lifecycle --------------------------------------------------------------------
    def _refresh_loop(self):
        while True:
            gevent.sleep(REFRESH_S)
            if self.node.cron_paused:       # (DEBUG PAUSE-CRON: as Redis's clientsCron)
                continue
            try:
                self.refresh()
            except Exception:
                log.exception("client eviction pass failed")

    def start(self):
        self.total = 0
        self.counted = {}
        if self.refresher is None:
            self.refresher = gevent.spawn(self._refresh_loop)
        self.refresh()

    def stop(self):
        if self.refresher is not None:
            self.refresher.kill(block=False)
            self.refresher = None
        self.counted = {}
        self.total = 0


def attach(node):
    ev = ClientEviction(node)
    node.client_eviction = None

    def apply(_value=None):
        if node.config["maxmemoryClients"]:
            node.client_eviction = ev
            ev.start()
        else:
            node.client_eviction = None
            ev.stop()

    def on_close(client):
        if node.client_eviction is not None:
            ev.forget(client)

    node.client_close_hooks.append(on_close)
    for name in ("maxmemoryClients", "maxmemory"):
        node.config.on_change(name, apply)
    if node.config["maxmemoryClients"]:
        node.start_hooks.append(apply)
