"""Routing: which node serves a command (``Router.route``, called by
dispatch for every command in cluster mode) and how messages reach other
nodes (``PeerClient`` for request/response, ``Bus`` for Pub/Sub fan-out).

``route`` follows Redis 7.0's ``getNodeByQuery`` step by step, so clients
see the same errors in the same situations:

* keys in different slots -> ``-CROSSSLOT``;
* slot with no master -> ``-CLUSTERDOWN Hash slot not served``;
* cluster not ok -> ``-CLUSTERDOWN The cluster is down`` (reads allowed with
  cluster-allow-reads-when-down);
* slot MIGRATING here and some keys missing -> ``-ASK slot host:port`` (all
  missing) or ``-TRYAGAIN`` (some missing);
* slot IMPORTING here: served after ASKING (``-TRYAGAIN`` for several keys
  not all present);
* replica with READONLY (or a shard Pub/Sub command): reads of its master's
  slots are served;
* otherwise ``-MOVED slot host:port`` unless this node owns the slot.

The replication stream and AOF loading are never redirected (Redis's
mustObeyClient).
"""
import collections
import logging
import socket
import time

import gevent
import hiredis
from gevent.event import Event

from ..commands.registry import ASKING, WRITE, lookup
from ..errors import CommandError
from ..protocol.resp import encode_command
from .slots import key_slot

log = logging.getLogger("nodensync.cluster")

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
TRYAGAIN = "TRYAGAIN Multiple keys request during rehashing of slot"
DOWN = "CLUSTERDOWN The cluster is down"
DOWN_RO = "CLUSTERDOWN The cluster is down and only accepts read commands"
UNBOUND = "CLUSTERDOWN Hash slot not served"

_SHARD_PUBSUB = ("ssubscribe", "sunsubscribe", "spublish")
_monotonic = time.monotonic


class Router:
    def __init__(self, cluster):
        self.cluster = cluster
        self.node = cluster.node
        self.exec_spec = lookup(b"exec")
        self.migrate_spec = lookup(b"migrate")
        self.shard_pubsub = {lookup(n.encode()) for n in _SHARD_PUBSUB} - {None}
        self.no_reset_asking = {lookup(b"asking"), lookup(b"multi")} - {None}
        # Keys MIGRATE is moving right now (key -> Event set when done):
        # commands on them wait for it to finish, as Redis blocks the whole
        # server during MIGRATE; then they are served or redirected.
        self.inflight = {}
        # Manual failover: writes to this node's slots wait while paused.
        self.paused_until = 0.0
        self.unpaused = Event()
        self.unpaused.set()

    def refresh_specs(self):
        self.migrate_spec = lookup(b"migrate")
        self.shard_pubsub = {lookup(n.encode()) for n in _SHARD_PUBSUB} - {None}
        self.no_reset_asking = {lookup(b"asking"), lookup(b"multi")} - {None}

    # -- manual failover pause ------------------------------------------------
    def pause_writes(self, seconds):
        self.paused_until = time.monotonic() + seconds
        self.unpaused.clear()
        gevent.spawn_later(seconds, self._pause_expired)

    def _pause_expired(self):
        if time.monotonic() >= self.paused_until - 0.001:
            self.unpause()

    def unpause(self):
        self.paused_until = 0.0
        self.unpaused.set()

    # -- routing ----------------------------------------------------------------
    def route(self, client, spec, argv):
        # ASKING lasts for one command (Redis resets it after every command
        # but ASKING itself, and keeps it inside MULTI).
        asking = client.asking
        if asking and spec not in self.no_reset_asking and (client.multi is None
                                                            or spec is self.exec_spec):
            client.asking = False
        first = spec.first_key
        if first == 0:
            if spec.keys_fn is None:
                if spec is self.exec_spec and client.multi:
                    return self._route_exec(client, asking)
                return
        elif first == spec.last_key and spec.keys_fn is None and len(argv) > first:
            # The common case, kept short: one key, a slot this node serves,
            # nothing unusual going on.
            cluster = self.cluster
            view = cluster._view
            if view is not None and cluster.ok and not self.inflight and not self.paused_until:
                slot = key_slot(argv[first])
                n = view.owner[slot]
                if n is view.me and n is not None and slot not in view.migrating_to \
                        and _monotonic() <= cluster.alive_until:
                    return
            if client.is_master or client.kind == "aof":
                return
            return self._route_keys(client, spec, [argv[first]], asking, spec.flags & WRITE)
        if client.is_master or client.kind == "aof":
            return
        positions = spec.key_positions(argv)
        if not positions:
            return
        self._route_keys(client, spec, [argv[i] for i in positions], asking,
                         spec.flags & WRITE)

    def _route_exec(self, client, asking):
        keys = []
        write = 0
        specs = []
        for spec, argv, _args in client.multi:
            if spec.first_key == 0 and spec.keys_fn is None:
                continue
            pos = spec.key_positions(argv)
            if pos:
                keys.extend(argv[i] for i in pos)
                specs.append(spec)
            write |= spec.flags & WRITE
        if client.is_master or client.kind == "aof" or not keys:
            return
        self._route_keys(client, specs[0], keys, asking, write)

    def _route_keys(self, client, spec, keys, asking, is_write):
        cluster = self.cluster
        first = keys[0]
        slot = key_slot(first)
        multiple = False
        for k in keys[1:]:
            if k != first:
                if key_slot(k) != slot:
                    raise CommandError(CROSSSLOT)
                multiple = True
        if self.inflight and spec is not self.migrate_spec:
            for k in keys:
                ev = self.inflight.get(k)
                if ev is not None:
                    ev.wait(30.0)
                    return self._route_keys(client, spec, keys, asking, is_write)
        view = cluster.view
        n = view.owner[slot]
        if n is None:
            raise CommandError(UNBOUND)
        shard_pubsub = spec in self.shard_pubsub
        if _monotonic() > cluster.alive_until:
            # The process was stopped (SIGSTOP ...) and this command got in
            # before the control plane noticed: the configuration may be old.
            cluster.on_stall(_monotonic() - cluster.raft.last_loop)
        if not cluster.ok:
            if shard_pubsub:
                if not cluster.allow_pubsubshard_when_down:
                    raise CommandError(DOWN)
            elif not cluster.allow_reads_when_down:
                raise CommandError(DOWN)
            elif is_write:
                raise CommandError(DOWN_RO)
        me = view.me
        migrating = n is me and slot in view.migrating_to
        importing = not migrating and slot in view.importing_from
        missing = existing = 0
        if (migrating or importing) and not shard_pubsub:
            db = self.node.keyspace.dbs[0]
            for k in keys:
                if db.get(k) is None:
                    missing += 1
                else:
                    existing += 1
        if (migrating or importing) and spec is self.migrate_spec:
            return
        if migrating and missing:
            if existing:
                raise CommandError(TRYAGAIN)
            raise CommandError("ASK %d %s" % (slot, view.migrating_to[slot].addr))
        if importing and (asking or spec.flags & ASKING):
            if multiple and missing:
                raise CommandError(TRYAGAIN)
            return
        if ((client.readonly_cluster or shard_pubsub) and not is_write and me is not None
                and not me.is_master and me.master == n.id):
            return
        if n is not me:
            raise CommandError("MOVED %d %s" % (slot, n.addr))
        if is_write and self.paused_until:
            # CLUSTER FAILOVER in progress: hold writes until the switch
            # (then they are redirected) or the pause ends.
            self.unpaused.wait(max(0.0, self.paused_until - time.monotonic()) + 0.05)
            return self._route_keys(client, spec, keys, asking, is_write)


# -- talking to other nodes ------------------------------------------------------------
class PeerError(Exception):
    pass


class PeerClient:
    """A blocking (greenlet-friendly) RESP connection to another node's data
    port: one request, one reply.  Error replies come back as
    ``hiredis.ReplyError`` values."""

    def __init__(self, host, port, timeout=2.0, auth=None):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.auth = auth
        self.sock = None
        self.reader = None

    def connect(self):
        if self.sock is not None:
            return
        s = socket.create_connection((self.host, self.port), timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.reader = hiredis.Reader()
        if self.auth:
            user, password = self.auth
            args = [b"AUTH", password] if not user else [b"AUTH", user, password]
            r = self.call(*args)
            if isinstance(r, hiredis.ReplyError):
                log.warning("AUTH to %s:%d failed: %s", self.host, self.port, r)

    def local_ip(self):
        self.connect()
        return self.sock.getsockname()[0]

    def call(self, *args, timeout=None):
        try:
            self.connect()
            self.sock.settimeout(timeout or self.timeout)
            self.sock.sendall(encode_command([a if isinstance(a, bytes) else str(a).encode()
                                              for a in args]))
            return self.read(timeout)
        except (OSError, ConnectionError, hiredis.ProtocolError) as e:
            self.close()
            raise PeerError("%s:%d: %s" % (self.host, self.port, e)) from None

    def send_only(self, data):
        self.connect()
        self.sock.sendall(data)

    def read(self, timeout=None):
        while True:
            r = self.reader.gets()
            if r is not False:
                return r
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("connection closed")
            self.reader.feed(data)

    def close(self):
        s = self.sock
        self.sock = None
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


class _Link:
    """Fire-and-forget messages to one peer (Pub/Sub forwarding): queued,
    written by one greenlet, replies read and dropped by another.  A peer
    that is down loses its messages (Pub/Sub is at-most-once)."""

    MAX_QUEUED = 64 * 1024 * 1024

    def __init__(self, bus, node_id):
        self.bus = bus
        self.node_id = node_id
        self.queue = collections.deque()
        self.queued = 0
        self.wake = Event()
        self.greenlet = gevent.spawn(self._run)
        self.dropped = 0

    def push(self, data):
        if self.queued + len(data) > self.MAX_QUEUED:
            self.dropped += 1
            return
        self.queue.append(data)
        self.queued += len(data)
        self.wake.set()

    def _run(self):
        peer = None
        reader = None
        while True:
            self.wake.wait()
            self.wake.clear()
            rec = self.bus.cluster.view.nodes.get(self.node_id)
            if rec is None:
                self.queue.clear()
                self.queued = 0
                return
            try:
                if peer is None or (peer.host, peer.port) != (rec.ip, rec.port):
                    if peer is not None:
                        peer.close()
                    peer = PeerClient(rec.ip, rec.port, timeout=2.0, auth=self.bus.cluster.auth())
                    peer.connect()
                    peer.send_only(encode_command([b"CLIENT", b"REPLY", b"OFF"]))
                    if reader is not None:
                        reader.kill(block=False)
                    reader = gevent.spawn(_drain_replies, peer)
                while self.queue:
                    batch = []
                    while self.queue and len(batch) < 256:
                        batch.append(self.queue.popleft())
                    data = b"".join(batch)
                    self.queued -= len(data)
                    peer.sock.settimeout(5.0)
                    peer.sock.sendall(data)
            except (OSError, ConnectionError, PeerError):
                if peer is not None:
                    peer.close()
                peer = None
                self.queue.clear()
                self.queued = 0
                gevent.sleep(0.2)

    def close(self):
        self.greenlet.kill(block=False)


def _drain_replies(peer):
    sock = peer.sock
    try:
        while True:
            sock.settimeout(None)
            if not sock.recv(1 << 16):
                return
    except (OSError, AttributeError):
        return


class Bus:
    """Pub/Sub between nodes over their data ports: PUBLISH reaches every
    node, SPUBLISH the nodes of the channel's shard."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.links = {}
        self.forwarded = 0

    def _link(self, node_id):
        link = self.links.get(node_id)
        if link is None or link.greenlet.dead:
            link = self.links[node_id] = _Link(self, node_id)
        return link

    def publish(self, channel, message):
        view = self.cluster.view
        data = encode_command([b"CLUSTER", b"NSYNC", b"PUBLISH", channel, message])
        for nid in view.nodes:
            if nid != view.my_id:
                self._link(nid).push(data)
                self.forwarded += 1

    def spublish(self, channel, message):
        view = self.cluster.view
        slot = key_slot(channel)
        owner = view.owner[slot]
        if owner is None:
            return
        data = encode_command([b"CLUSTER", b"NSYNC", b"SPUBLISH", channel, message])
        for rec in [owner] + view.replicas_of(owner.id):
            if rec.id != view.my_id:
                self._link(rec.id).push(data)
                self.forwarded += 1

    def prune(self, view):
        for nid in list(self.links):
            if nid not in view.nodes:
                self.links.pop(nid).close()

    def close(self):
        for link in self.links.values():
            link.close()
        self.links.clear()
