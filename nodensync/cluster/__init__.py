"""Cluster mode: 16384 hash slots over shards (one master, N replicas),
client redirections, CLUSTER commands, a Raft-replicated configuration,
automatic failover and live resharding.  See docs/cluster.md.

``attach(node)`` (with ``--clusterEnabled yes``) installs ``node.cluster``,
a ``Cluster``:

* ``route(client, spec, argv)`` -- called by dispatch for every command
  (cluster mode sends every client through dispatch's checks) -- answers
  MOVED/ASK/CROSSSLOT/TRYAGAIN/CLUSTERDOWN (``router.py``);
* ``view`` -- the committed configuration as this node reads it
  (``topology.View``), rebuilt when Raft applies a change (``raft.py``);
* health checks, failure detection and failover (``failover.py``), Pub/Sub
  forwarding (``router.Bus``), joining (CLUSTER MEET) and leaving (RESET).

Joining: a node starts alone (CLUSTER NODES shows only itself).  ``CLUSTER
MEET ip port`` on a member adds the other node: the member commits it into
the configuration, makes it a Raft voter (while there are fewer than
``cluster-raft-voters``) or a read-only member, and tells it to start its
Raft member with the current voters as partners.  MEET between two fresh
nodes first turns the receiving node into a one-member cluster; MEET sent to
a fresh node naming a member asks the member to add it (so ``redis-cli
--cluster create``, which sends MEET to every new node, works too).

Identity (node id, membership) is kept in ``<dataDir>/<cluster-config-file>``
(JSON), the Raft log in ``<dataDir>/raft.journal`` and ``raft.dump``: a
restarted member rejoins with its id and catches up from the log.
"""
import re
import socket
import json
import logging
import os
import time

import gevent
import gevent.lock

from .. import config as cfg
from ..protocol.resp import Push, encode
from .failover import FailoverController, HealthMonitor, Reconciler
from .raft import ControlPlane, RaftError
from .router import Bus, PeerClient, PeerError, Router
from .slots import SLOTS, SlotIndex, key_slot
from .topology import View

log = logging.getLogger("nodensync.cluster")

G = "cluster"


def _hostname(value):
    """Redis's isValidAnnouncedHostname."""
    if len(value.encode("utf-8", "surrogateescape")) >= 256:
        raise ValueError("Hostnames must be less than 256 characters")
    if not re.fullmatch(r"[A-Za-z0-9.-]*", value):
        raise ValueError("Hostnames may only contain alphanumeric characters, hyphens or dots")


def _parse_peers(text):
    out = []
    for part in text.replace(",", " ").split():
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("'%s' is not host:port" % part)
        out.append((host.strip("[]") or "127.0.0.1", int(port)))
    return text


cfg.declare("clusterEnabled", "bool", False,
            "Run as a Redis Cluster node (hash slots, redirections, CLUSTER commands).",
            redis="cluster-enabled", group=G)
cfg.declare("clusterBusPort", "int", 0,
            "TCP port of the cluster control plane (Raft); 0 = the data port + 10000.",
            redis="cluster-port", minimum=0, maximum=65535, group=G)
cfg.declare("clusterConfigFile", "str", "nodes.conf",
            "File in the data directory keeping this node's cluster identity (JSON).",
            redis="cluster-config-file", group=G)
cfg.declare("clusterPeers", "str", "",
            "Seed list 'host:port,...' (data ports) to join at start when not yet in a "
            "cluster: a member among them adds this node; if none is a member, the first "
            "seed in sorted order founds the cluster.", group=G, parser=None,
            validate=_parse_peers)
cfg.declare("clusterNodeTimeout", "int", 15000,
            "Milliseconds a node may stay unreachable before it is failed (and its "
            "replica promoted).", redis="cluster-node-timeout", mutable=True, minimum=0,
            maximum=2 ** 63 - 1, group=G)
cfg.declare("clusterRequireFullCoverage", "bool", True,
            "Refuse keyed commands when some slot has no serving master.",
            redis="cluster-require-full-coverage", mutable=True, group=G)
cfg.declare("clusterAllowReadsWhenDown", "bool", False,
            "Serve reads while the cluster state is fail.",
            redis="cluster-allow-reads-when-down", mutable=True, group=G)
cfg.declare("clusterAllowPubsubshardWhenDown", "bool", True,
            "Serve shard Pub/Sub while the cluster state is fail.",
            redis="cluster-allow-pubsubshard-when-down", mutable=True, group=G)
cfg.declare("clusterAnnounceIp", "str", "",
            "IP address other nodes and clients use for this node ('' = the listen address, "
            "or the one peers reach it at).", redis="cluster-announce-ip", mutable=True, group=G)
cfg.declare("clusterAnnounceHostname", "str", "",
            "Hostname shown in CLUSTER NODES / SHARDS ('' = none).",
            redis="cluster-announce-hostname", mutable=True, group=G, validate=_hostname)
cfg.declare("clusterReplicaValidityFactor", "int", 10,
            "A replica whose link to its master was down longer than node-timeout x factor "
            "(+10 s) is not promoted (0 = always eligible).",
            redis="cluster-replica-validity-factor", mutable=True, minimum=0,
            maximum=2 ** 31 - 1, group=G)
cfg.declare("clusterAllowReplicaMigration", "bool", True,
            "A master whose last slot is moved away becomes a replica of the node that took it.",
            redis="cluster-allow-replica-migration", mutable=True, group=G)
cfg.declare("clusterRaftVoters", "int", 5,
            "How many members vote in the control plane (Raft); later members follow the "
            "log without voting.", minimum=1, maximum=15, group=G)


class Identity:
    """This node's id and membership, persisted as JSON."""

    def __init__(self, path):
        self.path = path
        self.data = {}
        try:
            with open(path) as f:
                self.data = json.load(f)
        except (OSError, ValueError):
            self.data = {}
        if not self.data.get("id"):
            self.data = {"id": os.urandom(20).hex(), "joined": False}
            self.save()

    def __getitem__(self, k):
        return self.data.get(k)

    def update(self, **kw):
        self.data.update(kw)
        self.save()

    def reset(self, hard):
        self.data = {"id": os.urandom(20).hex() if hard else self.data["id"], "joined": False}
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(self.data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            log.warning("Could not save the cluster identity file %s: %s", self.path, e)


class ReplicationAdapter:
    """What the cluster needs from the replication subsystem
    (``node.replication``): become a master, replicate host:port."""

    def __init__(self, node):
        self.node = node

    def _r(self):
        return getattr(self.node, "replication", None)

    def is_replica(self):
        r = self._r()
        if r is None:
            return False
        return r.master_address() is not None

    def master_address(self):
        r = self._r()
        if r is None:
            return None
        return r.master_address()

    def become_master(self):
        r = self._r()
        if r is not None:
            r.replicaof(None)

    def replicate(self, host, port):
        r = self._r()
        if r is not None:
            r.replicaof((host, port))


class Cluster:
    def __init__(self, node):
        self.node = node
        self.config = node.config
        self.data_dir = node.config["dataDir"]
        self.identity = Identity(os.path.join(self.data_dir, node.config["clusterConfigFile"]))
        self.my_id = self.identity["id"]
        self.raft = ControlPlane(self)
        self.health = HealthMonitor(self)
        self.failover = FailoverController(self)
        self.reconciler = Reconciler(self)
        self.router = Router(self)
        self.bus = Bus(self)
        self.replication = ReplicationAdapter(node)
        self.route = self.router.route           # dispatch calls node.cluster.route
        self._view = None
        self._owned = None
        self.ok = False
        self.alive_until = float("inf")     # the Raft loop ran recently (stall detection)
        self.state_reason = "starting"
        self.stale = False
        self._catching_up = None
        self.started = False
        self.tcp_port = node.tcp_port
        self.bus_port = 0
        self._bus_hold = None          # the bus port's socket, held from start()
        self.learned_ip = None
        self.connections = 0
        self.slot_index = SlotIndex(lambda: node.keyspace.dbs[0])
        self.migrating_tokens = {}
        self.background = []
        self.joining = False
        self.meet_lock = gevent.lock.Semaphore()
        self.left = False
        self.meets = 0
        self.stats_stalls = 0

    # -- settings -------------------------------------------------------------------
    def node_timeout_ms(self):
        return self.config["clusterNodeTimeout"]

    @property
    def stall_threshold(self):
        """A pause of the process longer than this (seconds) may have hidden
        a configuration change (a failover needs node-timeout of silence)."""
        return max(1.0, self.config["clusterNodeTimeout"] / 1000.0 * 0.75)

    @property
    def allow_reads_when_down(self):
        return self.config["clusterAllowReadsWhenDown"]

    @property
    def allow_pubsubshard_when_down(self):
        return self.config["clusterAllowPubsubshardWhenDown"]

    def bind_host(self):
        return self.config["listenAddr"][0]

    def announce_ip(self):
        ip = self.config["clusterAnnounceIp"]
        if ip:
            return ip
        host = self.config["listenAddr"][0]
        if host not in ("0.0.0.0", "::", ""):
            return host
        return self.learned_ip or "127.0.0.1"

    def auth(self):
        """Credentials for connections to other nodes (masteruser/masterauth
        when configured: internal commands need them when AUTH is on)."""
        values = self.config.values
        pw = values.get("masterauth")
        if not pw:
            return None
        user = values.get("masteruser") or None
        return (user.encode() if isinstance(user, str) else user,
                pw.encode() if isinstance(pw, str) else pw)

    # -- the view -------------------------------------------------------------------
    @property
    def view(self):
        v = self._view
        if v is None:
            v = self._rebuild_view()
        return v

    def topology_changed(self):
        """Called when Raft applied an operation (tick greenlet) or the local
        configuration changed: the view is rebuilt on next use."""
        self._view = None
        self.reconciler.poke()

    def _rebuild_view(self):
        v = View(self.raft.topo, self.my_id)
        self._view = v
        try:
            self._after_view_change(v)
        except Exception:
            log.exception("applying a configuration change failed")
        return v

    def _after_view_change(self, v):
        self.health.sync_peers(v)
        self.bus.prune(v)
        self.update_state()
        me = v.me
        if self.router.paused_until and (me is None or not me.is_master):
            self.router.unpause()
        broker = getattr(self.node, "pubsub", None)
        if broker is not None and broker.shard_channels:
            self._drop_shard_channels(v)
        for slot in v.migrating_to:
            if slot not in self.migrating_tokens:
                self.migrating_tokens[slot] = self.slot_index.mark()
        for slot in list(self.migrating_tokens):
            if slot not in v.migrating_to:
                del self.migrating_tokens[slot]

    def _drop_shard_channels(self, v):
        """Slots this node no longer serves: their shard channel subscribers
        get a SUNSUBSCRIBE, as Redis does when a slot moves away."""
        broker = getattr(self.node, "pubsub", None)
        if broker is None or not broker.shard_channels:
            return
        me = v.me
        for ch in list(broker.shard_channels):
            owner = v.owner[key_slot(ch)]
            if owner is not None and me is not None and (owner is me or me.master == owner.id):
                continue
            for client in list(broker.shard_channels.get(ch, ())):
                broker.unsubscribe(client, ch, shard=True)
                client.send(encode(Push([b"sunsubscribe", ch, len(client.shard_channels)]),
                                   client.resp3))

    def update_state(self):
        """cluster_state ok/fail, as Redis computes it, plus: a node that
        lost contact with the majority of the voters, or that may have
        missed configuration changes (restart, stall), is down until it
        caught up."""
        v = self._view or self.view
        ok, reason = True, "ok"
        if self.stale:
            ok, reason = False, "catching up with the cluster configuration"
        elif self.config["clusterRequireFullCoverage"] and (v.assigned < SLOTS or v.failed_slots):
            ok, reason = False, "not every slot is served"
        elif self.raft.joined:
            voters = [n for n in v.nodes.values() if n.voter]
            if voters:
                reachable = sum(1 for n in voters if n.id == self.my_id or self.health.alive(n.id))
                if reachable * 2 <= len(voters):
                    ok, reason = False, "the majority of the voting members is unreachable"
        self.ok = ok
        self.state_reason = reason

    # -- lifecycle --------------------------------------------------------------------
    def start(self):
        self.started = True
        self.tcp_port = self.node.tcp_port
        bus = self.config["clusterBusPort"] or self.tcp_port + 10000
        if bus > 65535:
            log.error("Cluster bus port %d is out of range: set --clusterBusPort", bus)
            bus = 0
        self.bus_port = bus
        self._reserve_bus_port()
        self.router.refresh_specs()
        self._register_local()
        if self.identity["joined"]:
            self.stale = True
            self._restart_raft()
        self.failover.start()
        self.reconciler.start()
        self.background.append(gevent.spawn(self._state_loop))
        if self.config["clusterPeers"] and not self.identity["joined"]:
            self.background.append(gevent.spawn(self._seed_join))
        log.info("Cluster node %s: data port %d, bus port %d, %s", self.my_id, self.tcp_port,
                 self.bus_port, "member" if self.identity["joined"] else "not in a cluster yet")

    def _restart_raft(self):
        """Start the Raft member of a node that is in a cluster (at start,
        and retried while the bus port cannot be bound)."""
        voter = self.identity["voter"]
        addr = self.identity["self_addr"] if voter else None
        if voter and addr:
            ip = addr.rsplit(":", 1)[0]
            addr = "%s:%d" % (ip, self.bus_port)
        try:
            self.raft.start(addr, self.identity["peers"] or [])
        except Exception as e:
            log.error("Could not start the cluster control plane: %s", e)
            return
        self.stale = True
        self._start_catch_up()

    def _reserve_bus_port(self):
        """Hold the bus port from the start, as Redis binds its bus at start:
        a bound, non-listening socket with SO_REUSEADDR.  The OS then never
        hands the port out to a bind to port 0 (another server started on
        "a free port" meanwhile), while the Raft member's own listening
        socket (SO_REUSEADDR too) may still bind it when the node joins.
        A port already in use is only logged: joining retries it."""
        if not self.bus_port:
            return
        host = self.bind_host()
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, self.bus_port))
        except OSError as e:
            s.close()
            log.warning("Cluster bus port %d is busy (%s): the control plane starts once "
                        "it is free", self.bus_port, e.strerror)
            return
        self._bus_hold = s

    def stop(self, save=None):
        if self._bus_hold is not None:
            self._bus_hold.close()
            self._bus_hold = None
        for g in self.background:
            g.kill(block=False)
        self.failover.stop()
        self.reconciler.stop()
        self.health.stop()
        self.bus.close()
        self.raft.stop()

    def _register_local(self):
        """This node in its own pre-join configuration (slots and epoch given
        before joining are kept in the identity file, as Redis keeps them in
        nodes.conf)."""
        local = self.raft.local
        slots = []
        for a, b in (self.identity["local_slots"] or []) if not self.identity["joined"] else []:
            slots.extend(range(a, b + 1))
        local.apply("add_node", (self.my_id, self.announce_ip(), self.tcp_port, self.bus_port,
                                 self.config["clusterAnnounceHostname"], 0, slots,
                                 self.identity["local_epoch"] or 0))
        self.topology_changed()

    def save_local(self):
        """Persist the pre-join configuration (ADDSLOTS before MEET)."""
        if self.raft.joined:
            return
        local = self.raft.local
        me = local.nodes.get(self.my_id)
        mine = [i for i, o in enumerate(local.slots) if o == self.my_id]
        from .slots import ranges
        self.identity.update(local_slots=[list(r) for r in ranges(mine)],
                             local_epoch=me["epoch"] if me else 0)

    def _state_loop(self):
        last_peers = None
        n = 0
        while True:
            gevent.sleep(0.1)
            n += 1
            try:
                if self.identity["joined"] and not self.raft.joined and n % 20 == 0:
                    self._restart_raft()          # e.g. the bus port was busy at start
                v = self.view
                self.update_state()
                if n % 10 == 0 and self.raft.joined:
                    peers = self.raft.voter_addresses()
                    if peers and peers != last_peers:
                        last_peers = peers
                        if peers != self.identity["peers"]:
                            self.identity.update(peers=peers)
                    me = v.me
                    if me is not None and (me.ip, me.port) != (self.announce_ip(), self.tcp_port) \
                            and self.config["clusterAnnounceIp"]:
                        self.raft.propose("update_addr", self.my_id, self.announce_ip(),
                                          self.tcp_port, self.bus_port, me.hostname, timeout=2.0)
            except RaftError:
                pass
            except Exception:
                log.exception("cluster state loop failed")

    # -- staleness ---------------------------------------------------------------------
    def on_stall(self, gap):
        """The Raft loop did not run for ``gap`` seconds (SIGSTOP ...)."""
        if self.stale and self._catching_up is not None and not self._catching_up.dead:
            return
        self.stats_stalls += 1
        log.warning("Cluster control plane was stalled for %.1f s: serving no keys until the "
                    "configuration is confirmed", gap)
        self.stale = True
        self.ok = False
        self.state_reason = "catching up with the cluster configuration"
        # Our own silence says nothing about the others: restart their clocks.
        self.health.grace()
        self.raft.last_loop = time.monotonic()
        if self.raft.joined:
            self.alive_until = self.raft.last_loop + self.stall_threshold
        self._start_catch_up()

    def _start_catch_up(self):
        if self._catching_up is None or self._catching_up.dead:
            self._catching_up = gevent.spawn(self._catch_up)

    def _catch_up(self):
        """A barrier through Raft: once it commits, everything committed
        before it is applied here."""
        while self.stale and self.raft.joined:
            try:
                self.raft.barrier(timeout=3.0)
            except RaftError:
                gevent.sleep(0.2)
                continue
            self.stale = False
            self._view = None
            self.update_state()
            self.reconciler.poke()
            log.info("Cluster configuration confirmed (Raft barrier committed)")

    def leadership_changed(self, leader):
        if leader:
            self.failover.took_office()

    # -- joining -------------------------------------------------------------------------
    def hello_info(self):
        """What a node tells a member that wants to add it (CLUSTER NSYNC HELLO)."""
        v = self.view
        me = v.me
        slots = [i for i in range(SLOTS) if v.owner[i] is me] if me is not None else []
        return {
            b"id": self.my_id.encode(),
            b"joined": 1 if self.raft.joined else 0,
            b"announce-ip": self.config["clusterAnnounceIp"].encode(),
            b"port": self.tcp_port,
            b"bus-port": self.bus_port,
            b"hostname": self.config["clusterAnnounceHostname"].encode(),
            b"epoch": me.epoch if me is not None else 0,
            b"slots": " ".join("%d" % s for s in slots).encode(),
            b"keys": sum(len(db.data) for db in self.node.keyspace.dbs),
            b"members": " ".join(sorted(v.nodes)).encode(),
        }

    def meet(self, ip, port):
        """CLUSTER MEET, run in the background (Redis answers at once too);
        one at a time (Raft changes its membership one member at a time)."""
        self.meets += 1
        try:
            with self.meet_lock:
                self._meet(ip, port)
        except (RaftError, PeerError, OSError) as e:
            log.warning("CLUSTER MEET %s:%d failed: %s", ip, port, e)
        except Exception:
            log.exception("CLUSTER MEET %s:%d failed", ip, port)

    def _meet(self, ip, port):
        peer = PeerClient(ip, port, timeout=5.0, auth=self.auth())
        try:
            other = _pairs(peer.call(b"CLUSTER", b"NSYNC", b"HELLO"))
            if not other:
                raise PeerError("%s:%d is not a NodeNsync cluster node" % (ip, port))
            if not self.config["clusterAnnounceIp"] and self.config["listenAddr"][0] in \
                    ("0.0.0.0", "::", ""):
                self.learned_ip = peer.local_ip()
            other_id = other[b"id"].decode()
            if other_id == self.my_id:
                return
            if other.get(b"joined") and other_id in self.view.nodes:
                return
            if other.get(b"joined") and self.raft.joined:
                raise PeerError("%s:%d belongs to another cluster" % (ip, port))
            if not self.raft.joined:
                # Both fresh: the node named by MEET founds the cluster (so
                # several fresh nodes meeting the same one -- redis-cli
                # --cluster create -- end up in one cluster), then adds us.
                if not other.get(b"joined"):
                    r = peer.call(b"CLUSTER", b"NSYNC", b"FOUND", timeout=30.0)
                    if r != b"OK":
                        raise PeerError("%s:%d could not found a cluster: %s" % (ip, port, r))
                my_ip = self.announce_ip() if (self.config["clusterAnnounceIp"] or
                                               self.config["listenAddr"][0] not in
                                               ("0.0.0.0", "::", "")) else peer.local_ip()
                r = peer.call(b"CLUSTER", b"MEET", my_ip, b"%d" % self.tcp_port)
                if not isinstance(r, bytes):
                    raise PeerError("%s:%d refused to add this node: %s" % (ip, port, r))
                return
        finally:
            peer.close()
        self.add_member(other, ip, port)

    def found(self):
        """CLUSTER NSYNC FOUND: become a one-member cluster unless already
        in one (serialized with the MEETs this node runs)."""
        with self.meet_lock:
            self.bootstrap()

    def bootstrap(self):
        """Become a one-member cluster."""
        if self.raft.joined:
            return
        if not self.bus_port:
            raise RaftError("no cluster bus port (set --clusterBusPort)")
        local_me = self.raft.local.nodes[self.my_id]
        slots = [i for i, o in enumerate(self.raft.local.slots) if o == self.my_id]
        addr = "%s:%d" % (self.announce_ip(), self.bus_port)
        self.identity.update(joined=True, voter=True, self_addr=addr, peers=[addr])
        try:
            self.raft.start(addr, [])
        except Exception as e:
            self.identity.update(joined=False)
            raise RaftError("could not start the control plane on %s: %s" % (addr, e)) from None
        deadline = time.monotonic() + 10
        while not self.raft.is_leader():
            if time.monotonic() > deadline:
                raise RaftError("the new one-member cluster elected no leader")
            gevent.sleep(0.05)
        res = self.raft.propose("add_node", self.my_id, self.announce_ip(), self.tcp_port,
                                self.bus_port, self.config["clusterAnnounceHostname"],
                                self.config["clusterRaftVoters"], slots, local_me["epoch"])
        if isinstance(res, str):
            raise RaftError(res)
        log.info("Founded a new cluster (this node is its first member)")

    def add_member(self, other, ip, port):
        """Commit a fresh node into the configuration and start its Raft
        member (voter or read-only)."""
        other_id = other[b"id"].decode()
        announce = (other.get(b"announce-ip") or b"").decode()
        node_ip = announce or ip
        bus = int(other.get(b"bus-port") or 0)
        if not bus:
            raise PeerError("%s:%d has no cluster bus port" % (ip, port))
        slots_text = (other.get(b"slots") or b"").decode()
        slots = [int(s) for s in slots_text.split()] if slots_text else []
        res = self.raft.propose("add_node", other_id, node_ip, int(other.get(b"port") or port),
                                bus, (other.get(b"hostname") or b"").decode(),
                                self.config["clusterRaftVoters"], slots,
                                int(other.get(b"epoch") or 0), timeout=10.0)
        if isinstance(res, str):
            raise RaftError(res)
        voter = res["voter"]
        addr = "%s:%d" % (node_ip, bus)
        peers = self.raft.voter_addresses()
        args = [b"CLUSTER", b"NSYNC", b"JOIN", b"1" if voter else b"0",
                addr.encode() if voter else b"-"] + [p.encode() for p in peers]
        # The new member starts its Raft side first (it cannot disturb the
        # voters: they drop connections from unknown members); only once it
        # runs is it made a voter, so a node that fails to start never
        # becomes a voter the majority would wait for.
        peer = PeerClient(ip, port, timeout=15.0, auth=self.auth())
        try:
            r = peer.call(*args)
        except PeerError as e:
            r = e
        finally:
            peer.close()
        if not isinstance(r, bytes):
            try:
                self.raft.propose("forget", other_id, timeout=5.0)
            except RaftError:
                pass
            raise PeerError("%s:%d could not join: %s" % (ip, port, r))
        if voter:
            self.raft.change_membership(True, addr, timeout=20.0)
        log.info("Node %s (%s:%d) joined the cluster as a %s member", other_id, node_ip, port,
                 "voting" if voter else "read-only")

    def join(self, voter, self_addr, peers):
        """CLUSTER NSYNC JOIN: start our Raft member, partnered with ``peers``."""
        if self.raft.joined:
            return
        if voter and self_addr:
            ip = self_addr.rsplit(":", 1)[0]
            self.learned_ip = self.learned_ip or ip
        self.raft.start(self_addr if voter else None, peers)      # RaftError if it cannot
        self.identity.update(joined=True, voter=bool(voter), self_addr=self_addr if voter else None,
                             peers=peers)
        self.stale = True
        self._start_catch_up()

    def promote(self, self_addr, peers):
        """CLUSTER NSYNC PROMOTE: this read-only member becomes a voter (its
        Raft member restarts with the same log)."""
        if self.raft.self_addr == self_addr:
            return
        self.stale = True              # no keys served while the log is replayed
        self.ok = False
        self.raft.stop()
        try:
            self.raft.start(self_addr, peers)
        except RaftError:
            self.raft.start(None, peers)       # stay a read-only member
            raise
        self.identity.update(voter=True, self_addr=self_addr, peers=peers)
        self.stale = True
        self._start_catch_up()

    def _seed_join(self):
        """--clusterPeers: join through the seeds at start."""
        seeds = []
        for part in self.config["clusterPeers"].replace(",", " ").split():
            host, _, port = part.rpartition(":")
            seeds.append((host.strip("[]") or "127.0.0.1", int(port)))
        me = (self.announce_ip(), self.tcp_port)
        while not self.raft.joined and not self.left:
            answered = []
            for host, port in seeds:
                if (host, port) == me:
                    continue
                peer = PeerClient(host, port, timeout=2.0, auth=self.auth())
                try:
                    info = _pairs(peer.call(b"CLUSTER", b"NSYNC", b"HELLO"))
                except PeerError:
                    continue
                finally:
                    peer.close()
                answered.append((host, port))
                if info.get(b"joined"):
                    self.meet(host, port)
                    break
            else:
                founder = min(seeds + [me])
                if founder == me and answered:
                    try:
                        self.found()
                    except (RaftError, OSError) as e:
                        log.warning("Could not found the cluster: %s", e)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not self.raft.joined:
                gevent.sleep(0.05)

    def leave(self, hard):
        """CLUSTER RESET: leave the cluster and forget the configuration
        (the --clusterPeers seeds are not joined again)."""
        self.left = True
        if self.raft.joined:
            try:
                self.raft.propose("forget", self.my_id, timeout=2.0)
            except RaftError as e:
                log.warning("Could not remove this node from the cluster configuration: %s", e)
            self.raft.stop(wipe=True)
        self.identity.reset(hard)
        self.my_id = self.identity["id"]
        from .topology import Topology
        self.raft.local = Topology()
        self.stale = False
        self._register_local()
        self.health.stop()

    # -- per-slot keys ---------------------------------------------------------------------
    def keys_in_slot(self, slot):
        self.view                    # applies pending changes (migration tokens)
        return self.slot_index.keys(slot, self.migrating_tokens.get(slot))

    # -- Pub/Sub ---------------------------------------------------------------------------
    def on_command(self, client, spec, argv, usec):
        """Command listener: PUBLISH / SPUBLISH also go to the other nodes."""
        name = spec.name
        if name == "publish":
            if len(argv) == 3 and self.raft.joined:
                self.bus.publish(argv[1], argv[2])
        elif name == "spublish":
            if len(argv) == 3 and self.raft.joined:
                self.bus.spublish(argv[1], argv[2])


def _pairs(reply):
    """A map reply (RESP2 flat array or RESP3 dict) as a dict."""
    if isinstance(reply, dict):
        return reply
    if isinstance(reply, list):
        return {reply[i]: reply[i + 1] for i in range(0, len(reply) - 1, 2)}
    return {}


def attach(node):
    if not node.config["clusterEnabled"]:
        return
    cluster = Cluster(node)
    node.cluster = cluster
    node.set_gate_all(True, "cluster")
    node.start_hooks.append(cluster.start)
    node.shutdown_hooks.append(cluster.stop)
    node.command_listeners.append(cluster.on_command)
    node.client_close_hooks.append(cluster.health.client_closed)
