"""Pub/Sub: who listens to what, and delivery that never blocks a publisher.

The broker keeps three registries, as Redis does: channels, patterns and
shard channels, each mapping a name to the clients subscribed to it (dicts
used as ordered sets, so behaviour is deterministic).  A client keeps the
mirror image (``client.channels`` / ``patterns`` / ``shard_channels``) so
that unsubscribing everything on RESET or disconnect is cheap.

Delivery encodes a message once per protocol and appends it to the
subscriber's pending list; once per event-loop iteration (a hub callback)
each subscriber's pending messages are joined and handed to
``client.send()``, which writes what the kernel takes and queues the rest:
the publisher never waits for a subscriber, and a burst of messages (a
pipelined publisher, several publishers ready at once) costs each subscriber
one send, as Redis writes a client's buffer once per event-loop iteration.
A client's own messages (it publishes to a channel it listens to, or causes
a keyspace notification it receives) go out at once, so they keep their
place before its reply; its pending messages are sent before it leaves a
channel (the unsubscribe confirmation follows them, as in Redis).  A subscriber is a "pubsub"
client for ``client-output-buffer-limit`` while it has a subscription, so
one that stops reading is disconnected once its queue passes the limit
(``Client.check_output_limits``) instead of growing without bound.

Keyspace notifications (``pubsub/notify.py``) publish through the same
broker.  ``attach(node)`` wires the broker, the notifications, the
``client-output-buffer-limit`` setting and the clean-up hooks (RESET,
disconnect) of Pub/Sub, MONITOR and WATCH into a node.
"""
import logging
import re

import gevent

from .. import config as cfg
from ..commands.util import glob_matcher

log = logging.getLogger("nodensync.pubsub")

_MESSAGE = b"$7\r\nmessage\r\n"
_PMESSAGE = b"$8\r\npmessage\r\n"
_SMESSAGE = b"$8\r\nsmessage\r\n"


def channel_matcher(pattern):
    """Redis's stringmatchlen() as Pub/Sub uses it: no shortcut for "*", so an
    empty channel name matches only the empty pattern."""
    if pattern == b"":
        return lambda channel: channel == b""
    if pattern == b"*":
        return lambda channel: channel != b""
    match = glob_matcher(pattern)
    return lambda channel: channel != b"" and bool(match(channel))


def _bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


class Broker:
    def __init__(self, node):
        self.node = node
        self.channels = {}          # channel -> {client: None}
        self.patterns = {}          # pattern -> {client: None}
        self.shard_channels = {}    # shard channel -> {client: None}
        self._matchers = {}         # pattern -> compiled predicate
        self.pending = {}           # client -> [encoded message, ...] not sent yet (see flush)
        self._flush_scheduled = False

    # -- subscriptions ----------------------------------------------------------
    @staticmethod
    def _own(client, attr):
        """The client's registry ``attr`` as an insertion-ordered dict (the
        client starts with empty sets)."""
        mine = getattr(client, attr)
        if type(mine) is not dict:
            mine = dict.fromkeys(mine)
            setattr(client, attr, mine)
        return mine

    @staticmethod
    def _recount(client):
        """Subscribed mode and the pubsub output-buffer class follow the
        total number of subscriptions (channels, patterns, shard channels)."""
        total = len(client.channels) + len(client.patterns) + len(client.shard_channels)
        if client.subscribed != total:
            client.subscribed = total
        kind = client.kind
        if total and kind == "normal":
            client.kind = "pubsub"
        elif not total and kind == "pubsub":
            client.kind = "normal"

    def subscribe(self, client, channel, shard=False):
        """Add a subscription; True if it is new."""
        if client in self.pending:
            self.flush_client(client)
        attr, registry = ("shard_channels", self.shard_channels) if shard \
            else ("channels", self.channels)
        mine = self._own(client, attr)
        if channel in mine:
            return False
        mine[channel] = None
        registry.setdefault(channel, {})[client] = None
        self._recount(client)
        return True

    def unsubscribe(self, client, channel, shard=False):
        """Remove a subscription; True if there was one."""
        if client in self.pending:
            self.flush_client(client)
        attr, registry = ("shard_channels", self.shard_channels) if shard \
            else ("channels", self.channels)
        mine = self._own(client, attr)
        if channel not in mine:
            return False
        del mine[channel]
        subs = registry.get(channel)
        if subs is not None:
            subs.pop(client, None)
            if not subs:
                del registry[channel]
        self._recount(client)
        return True

    def psubscribe(self, client, pattern):
        if client in self.pending:
            self.flush_client(client)
        mine = self._own(client, "patterns")
        if pattern in mine:
            return False
        mine[pattern] = None
        subs = self.patterns.get(pattern)
        if subs is None:
            subs = self.patterns[pattern] = {}
            self._matchers[pattern] = channel_matcher(pattern)
        subs[client] = None
        self._recount(client)
        return True

    def punsubscribe(self, client, pattern):
        if client in self.pending:
            self.flush_client(client)
        mine = self._own(client, "patterns")
        if pattern not in mine:
            return False
        del mine[pattern]
        subs = self.patterns.get(pattern)
        if subs is not None:
            subs.pop(client, None)
            if not subs:
                del self.patterns[pattern]
                self._matchers.pop(pattern, None)
        self._recount(client)
        return True

    def unsubscribe_all(self, client):
        """Forget every subscription of ``client`` without telling it
        (RESET, disconnect)."""
        if client in self.pending:
            self.flush_client(client)
        if not client.subscribed:
            return
        for ch in list(client.channels):
            self.unsubscribe(client, ch)
        for p in list(client.patterns):
            self.punsubscribe(client, p)
        for ch in list(client.shard_channels):
            self.unsubscribe(client, ch, shard=True)

    # -- delivery ---------------------------------------------------------------
    def publish(self, channel, message):
        """Deliver to channel and pattern subscribers; returns how many
        deliveries were made (Redis's PUBLISH reply)."""
        receivers = 0
        subs = self.channels.get(channel)
        if subs:
            body = _MESSAGE + _bulk(channel) + _bulk(message)
            receivers += self._deliver(subs, b"*3\r\n" + body, b">3\r\n" + body)
        if self.patterns:
            cb = mb = None
            for pattern, subs in list(self.patterns.items()):
                if not self._matchers[pattern](channel):
                    continue
                if cb is None:
                    cb, mb = _bulk(channel), _bulk(message)
                body = _PMESSAGE + _bulk(pattern) + cb + mb
                receivers += self._deliver(subs, b"*4\r\n" + body, b">4\r\n" + body)
        return receivers

    def spublish(self, channel, message):
        """Deliver to the subscribers of a shard channel."""
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        body = _SMESSAGE + _bulk(channel) + _bulk(message)
        return self._deliver(subs, b"*3\r\n" + body, b">3\r\n" + body)

    def _deliver(self, subs, resp2, resp3):
        """Queue one message (encoded for each protocol) for every client
        of ``subs``; returns how many."""
        pending = self.pending
        current = gevent.getcurrent()
        for c in tuple(subs):
            msg = resp3 if c.resp3 else resp2
            if c.greenlet is current:
                # Its own message (it publishes to itself, a notification of
                # its own write): sent now, before its reply.
                if c in pending:
                    self.flush_client(c)
                c.send(msg)
                continue
            queued = pending.get(c)
            if queued is None:
                pending[c] = [msg]
            else:
                queued.append(msg)
        if pending and not self._flush_scheduled:
            self._flush_scheduled = True
            gevent.get_hub().loop.run_callback(self.flush)
        return len(subs)

    def flush(self):
        """Hand every subscriber its pending messages (one send each)."""
        self._flush_scheduled = False
        pending = self.pending
        if not pending:
            return
        self.pending = {}
        for c, msgs in pending.items():
            try:
                c.send(msgs[0] if len(msgs) == 1 else b"".join(msgs))
            except Exception:      # runs in the hub: one client's failure must not stop the rest
                log.exception("delivering Pub/Sub messages to %s failed", c.addr_text)

    def flush_client(self, client):
        msgs = self.pending.pop(client, None)
        if msgs:
            client.send(b"".join(msgs))

    # -- introspection ------------------------------------------------------------
    def active_channels(self, pattern=None, shard=False):
        registry = self.shard_channels if shard else self.channels
        if pattern is None:
            return list(registry)
        match = channel_matcher(pattern)
        return [ch for ch in registry if match(ch)]

    def numsub(self, channel, shard=False):
        subs = (self.shard_channels if shard else self.channels).get(channel)
        return len(subs) if subs else 0


# -- client-output-buffer-limit -----------------------------------------------------
_CLASSES = {"normal": "normal", "replica": "replica", "slave": "replica", "pubsub": "pubsub"}
_DEFAULT_LIMITS = {"normal": (0, 0, 0), "replica": (256 * 1024 ** 2, 64 * 1024 ** 2, 60),
                   "pubsub": (32 * 1024 ** 2, 8 * 1024 ** 2, 60)}
_MEM_RE = re.compile(r"(\d+)([a-zA-Z]*)")


def _memtoull(text):
    m = _MEM_RE.fullmatch(text)
    if not m or m.group(2).lower() not in cfg._MEM_UNITS:
        raise ValueError
    return int(m.group(1)) * cfg._MEM_UNITS[m.group(2).lower()]


def parse_output_limits(text):
    """Redis's ``client-output-buffer-limit`` value: groups of
    ``<class> <hard> <soft> <soft seconds>``; only the classes given change.
    Returns {class: (hard, soft, seconds)}."""
    words = text.split()
    if len(words) % 4:
        raise ValueError("Wrong number of arguments in buffer limit configuration.")
    out = {}
    for i in range(0, len(words), 4):
        klass = _CLASSES.get(words[i].lower())
        if klass is None:
            raise ValueError("Invalid client class specified in buffer limit configuration.")
        try:
            hard = _memtoull(words[i + 1])
            soft = _memtoull(words[i + 2])
            seconds = _memtoull(words[i + 3])   # Redis parses all three alike
        except ValueError:
            raise ValueError("Error in hard, soft or soft_seconds setting in buffer limit "
                             "configuration.") from None
        out[klass] = (hard, soft, seconds)
    return out


def format_output_limits(limits):
    full = dict(_DEFAULT_LIMITS)
    full.update(limits)
    return " ".join("%s %d %d %d" % ((name,) + full[klass])
                    for name, klass in (("normal", "normal"), ("slave", "replica"),
                                        ("pubsub", "pubsub")))


cfg.declare("clientOutputBufferLimit", "str", dict(_DEFAULT_LIMITS),
            "Output buffer limits per client class: '<class> <hard> <soft> <seconds>' "
            "groups, class normal, replica or pubsub (Redis syntax; 0 = no limit).",
            redis="client-output-buffer-limit", mutable=True, group="limits",
            parser=parse_output_limits, formatter=format_output_limits, repeat=" ")


# -- wiring ---------------------------------------------------------------------------
def attach(node):
    from . import notify
    from ..commands import transactions

    broker = Broker(node)
    node.pubsub = broker
    node.pubsub_channels = broker.channels      # INFO stats
    node.pubsub_patterns = broker.patterns
    node.pubsub_shard_channels = broker.shard_channels
    notify.install(node, broker)
    transactions.install(node)

    def apply_limits(value):
        # CONFIG SET changes only the classes it names: merge, then store
        # the full table so CONFIG GET / REWRITE show every class.
        merged = dict(_DEFAULT_LIMITS)
        merged.update({k: v for k, v in node.output_limits.items() if k in merged})
        merged.update(value)
        node.output_limits.update(merged)
        node.output_hard_min = min((lim[0] for lim in merged.values() if lim[0]),
                                   default=float("inf"))
        node.config.values["clientOutputBufferLimit"] = dict(merged)

    apply_limits(node.config.values.get("clientOutputBufferLimit", _DEFAULT_LIMITS))
    node.config.on_change("clientOutputBufferLimit", apply_limits)

    def forget(client):
        """RESET or disconnect: no more messages, no longer a monitor."""
        broker.unsubscribe_all(client)
        if client.is_monitor:
            client.is_monitor = False
            try:
                node.monitors.remove(client)
            except ValueError:
                pass

    node.client_close_hooks.append(forget)
    node.reset_hooks.append(forget)
