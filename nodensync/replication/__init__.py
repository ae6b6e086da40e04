"""Replication over Redis's PSYNC protocol (see docs/replication.md).

``attach(node)`` installs ``node.replication`` (a ``Replication``), which
holds the replication history of this node -- replication ID, secondary ID
and offset, the backlog -- and its role:

* as a master (``primary.Primary``): the propagator that encodes every write
  into the backlog, one link per replica streaming from it, full syncs from
  a forked child, partial resyncs, REPLCONF, WAIT, min-replicas-to-write;
* as a replica (``replica.MasterLink``): the connection to the master, the
  handshake, full-sync loading and the application of the stream.

A replica also serves replicas of its own (chained replication): it feeds
its backlog with the exact bytes it applies, so every node of a chain has
the same replication ID and offsets.

Other subsystems may read ``node.replication.role`` ("master" / "slave"),
``link_up`` (/readyz), ``backlog_bytes`` (INFO memory), and call
``set_master(host, port)`` / ``unset_master()`` (cluster failover).
"""
import binascii
import logging
import os
import time

import gevent

from .. import config as cfg
from ..observability.info import section
from .backlog import Backlog
from .failover import Failover
from .primary import Primary
from .replica import MasterLink

log = logging.getLogger("nodensync.replication")

G = "replication"
NULL_ID = "0" * 40


# -- settings ----------------------------------------------------------------------------
def parse_replicaof(text):
    """'host port' (or 'host:port'); '' or 'no one' means none."""
    t = text.strip()
    if not t or t.lower() in ("no one", "none"):
        return ""
    words = t.split()
    if len(words) == 1:
        host, sep, port = t.rpartition(":")
        if not sep:
            raise ValueError("expected '<host> <port>'")
        words = [host.strip("[]"), port]
    if len(words) != 2:
        raise ValueError("expected '<host> <port>'")
    try:
        port = int(words[1])
    except ValueError:
        raise ValueError("Invalid master port") from None
    if not 0 <= port <= 65535:       # (0 as Redis: a master that never answers)
        raise ValueError("Invalid master port")
    return "%s %d" % (words[0], port)


def _alias(name, redis, *old):
    return ["--" + name, "--" + redis] + ["--" + o for o in old]


cfg.declare("replicaof", "str", "",
            "Replicate from this master: '<host> <port>' (Redis's replicaof / slaveof). "
            "REPLICAOF changes it at run time.", redis="replicaof",
            flags=_alias("replicaof", "replicaof", "slaveof")[1:], parser=parse_replicaof,
            group=G)
cfg.declare("masterauth", "str", "", "Password used to authenticate with the master.",
            redis="masterauth", mutable=True, secret=True, group=G)
cfg.declare("masteruser", "str", "",
            "User name used to authenticate with the master (AUTH <masteruser> <masterauth>).",
            redis="masteruser", mutable=True, group=G)
cfg.declare("replicaReadOnly", "bool", True, "A replica refuses writes from its clients.",
            redis="replica-read-only",
            flags=_alias("replicaReadOnly", "replica-read-only", "slave-read-only"),
            mutable=True, group=G)
cfg.declare("replicaServeStaleData", "bool", True,
            "A replica whose link with the master is down still answers with its (possibly "
            "stale) data; 'no' answers -MASTERDOWN to all but a few commands.",
            redis="replica-serve-stale-data",
            flags=_alias("replicaServeStaleData", "replica-serve-stale-data",
                         "slave-serve-stale-data"), mutable=True, group=G)
cfg.declare("replBacklogSize", "memory", 1024 * 1024,
            "Size of the replication backlog kept for partial resynchronizations.",
            redis="repl-backlog-size", mutable=True, minimum=1, maximum=2 ** 63 - 1, group=G,
            normalize=lambda v: max(v, 16 * 1024))        # (Redis's smallest backlog)
cfg.declare("replBacklogTtl", "int", 3600,
            "Seconds after the last replica disconnected before a master frees its backlog "
            "(0 = never).", redis="repl-backlog-ttl", mutable=True, minimum=0,
            maximum=2 ** 63 - 1, group=G)
cfg.declare("replPingReplicaPeriod", "int", 10,
            "A master sends a PING to its replicas every this many seconds.",
            redis="repl-ping-replica-period",
            flags=_alias("replPingReplicaPeriod", "repl-ping-replica-period",
                         "repl-ping-slave-period"), mutable=True, minimum=1,
            maximum=2 ** 31 - 1, group=G)
cfg.declare("replTimeout", "int", 60,
            "Replication link timeout (seconds): no data from the master, no ACK from a "
            "replica, or a stalled transfer.", redis="repl-timeout", mutable=True, minimum=1,
            maximum=2 ** 31 - 1, group=G)
cfg.declare("replDisklessSync", "bool", True,
            "Full syncs stream the RDB from the forked child straight to the replicas "
            "($EOF:<mark> format) instead of writing it to disk first.",
            redis="repl-diskless-sync", mutable=True, group=G)
cfg.declare("replDisklessSyncDelay", "int", 5,
            "Seconds a diskless full sync waits for more replicas to share it.",
            redis="repl-diskless-sync-delay", mutable=True, minimum=0, maximum=2 ** 31 - 1,
            group=G)
cfg.declare("replDisklessSyncMaxReplicas", "int", 0,
            "Start a delayed diskless sync as soon as this many replicas wait (0 = no limit).",
            redis="repl-diskless-sync-max-replicas", mutable=True, minimum=0,
            maximum=2 ** 31 - 1, group=G)
cfg.declare("replDisklessLoad", "enum", "disabled",
            "How a replica loads a full sync, as Redis: 'swapdb' (and 'on-empty-db' "
            "without keys) parse the payload from the socket as it arrives (no disk; a slow "
            "loader slows the master's transfer), 'disabled' receives it into a temp file "
            "first.  'swapdb' from the master whose history the replica has loads "
            "asynchronously (the old data answers, INFO async_loading:1); other loads are "
            "loading (-LOADING) from the start of the transfer, or for 'disabled' once the "
            "file is received.  (The load always goes into a new data set: a failed sync "
            "leaves the old data.)",
            redis="repl-diskless-load", mutable=True,
            choices=["disabled", "on-empty-db", "swapdb"], group=G)
cfg.declare("replDisableTcpNodelay", "bool", False,
            "Disable TCP_NODELAY on replication sockets (fewer, bigger packets).",
            redis="repl-disable-tcp-nodelay", mutable=True, group=G)
cfg.declare("minReplicasToWrite", "int", 0,
            "Refuse writes (-NOREPLICAS) unless at least this many replicas acknowledged "
            "within min-replicas-max-lag seconds (0 = off).", redis="min-replicas-to-write",
            flags=_alias("minReplicasToWrite", "min-replicas-to-write", "min-slaves-to-write"),
            mutable=True, minimum=0, maximum=2 ** 31 - 1, group=G)
cfg.declare("minReplicasMaxLag", "int", 10,
            "Lag (seconds since the last ACK) under which a replica counts as good.",
            redis="min-replicas-max-lag",
            flags=_alias("minReplicasMaxLag", "min-replicas-max-lag", "min-slaves-max-lag"),
            mutable=True, minimum=0, maximum=2 ** 31 - 1, group=G)
cfg.declare("loadingProcessEventsIntervalBytes", "int", 2 * 1024 * 1024,
            "A replica loading a full sync serves its other clients at least every this "
            "many bytes of the payload (and at least every 10 ms).",
            redis="loading-process-events-interval-bytes", mutable=True, minimum=1024,
            maximum=2 ** 31 - 1, group=G)
cfg.declare("propagationErrorBehavior", "enum", "ignore",
            "What a replica does when a command from its master's stream fails (the "
            "error is always logged as '== CRITICAL ==' and counted in "
            "unexpected_error_replies): ignore it; or, on a read-only replica, panic "
            "(abort the process) with 'panic' or 'panic-on-replicas'.  (Redis's 'panic' "
            "also covers errors met while loading the AOF; NodeNsync's AOF loader ignores "
            "those with every value.)", redis="propagation-error-behavior",
            mutable=True, choices=["ignore", "panic", "panic-on-replicas"], group=G)
cfg.declare("replicaPriority", "int", 100, "Reported as slave_priority (failover tools).",
            redis="replica-priority",
            flags=_alias("replicaPriority", "replica-priority", "slave-priority"),
            mutable=True, minimum=0, maximum=2 ** 31 - 1, group=G)
cfg.declare("replicaAnnounced", "bool", True, "Reported as replica_announced.",
            redis="replica-announced", mutable=True, group=G)
cfg.declare("replicaAnnounceIp", "str", "",
            "Address a replica announces to its master (REPLCONF ip-address).",
            redis="replica-announce-ip",
            flags=_alias("replicaAnnounceIp", "replica-announce-ip", "slave-announce-ip"),
            mutable=True, group=G)
cfg.declare("replicaAnnouncePort", "int", 0,
            "Port a replica announces to its master (0 = its listening port).",
            redis="replica-announce-port",
            flags=_alias("replicaAnnouncePort", "replica-announce-port",
                         "slave-announce-port"), mutable=True, minimum=0, maximum=65535,
            group=G)
cfg.declare("replicaLazyFlush", "bool", False,
            "Accepted for compatibility: the replaced data set is always freed in the "
            "background after a full sync.", redis="replica-lazy-flush", mutable=True,
            group=G)


def new_replid():
    return binascii.hexlify(os.urandom(20)).decode()


class Replication:
    """The replication state of one node (see the module docstring)."""

    def __init__(self, node):
        self.node = node
        self.config = node.config
        self.replid = new_replid()
        self.replid2 = NULL_ID
        self.second_replid_offset = -1
        self.backlog = None
        self.base_offset = 0              # master_repl_offset while there is no backlog
        self.master_host = None
        self.master_port = None
        self.cached = None                # (replid, offset, dbid) for the next PSYNC
        self.link = None                  # replica.MasterLink while a replica
        self.primary = Primary(self)
        self.failover = Failover(self)        # FAILOVER (failover.py)

    # -- figures ---------------------------------------------------------------
    @property
    def role(self):
        return "master" if self.master_host is None else "slave"

    @property
    def failover_state(self):
        """no-failover, waiting-for-sync or failover-in-progress (INFO)."""
        return self.failover.state

    @property
    def link_up(self):
        link = self.link
        return link is not None and link.state == "connected"

    @property
    def offset(self):
        """master_repl_offset."""
        bl = self.backlog
        return bl.offset if bl is not None else self.base_offset

    @property
    def backlog_bytes(self):
        bl = self.backlog
        return len(bl.buf) if bl is not None else 0

    def buffer_memory(self):
        """(bytes in the replication buffer, repl-backlog-size, replicas
        connected): what Redis 7.0 splits between the backlog, the
        replicas' output buffers and what maxmemory does not count
        (security.memory.replication_memory).  The backlog buffer is the
        shared replication buffer: it holds what the slowest replica has
        not sent yet."""
        bl = self.backlog
        if bl is None:
            return 0, 0, False
        return len(bl.buf), bl.size, bool(self.primary.links)

    # -- replication IDs ----------------------------------------------------------
    def change_replid(self):
        self.replid = new_replid()

    def clear_replid2(self):
        self.replid2 = NULL_ID
        self.second_replid_offset = -1

    def shift_replid(self):
        """A replica becoming a master: the current history is kept as the
        secondary ID, valid up to the current offset, so its own replicas
        (and its former siblings) continue with a partial resync."""
        self.replid2 = self.replid
        self.second_replid_offset = self.offset + 1
        self.change_replid()
        log.info("Setting secondary replication ID to %s, valid up to offset: %d. "
                 "New replication ID is %s", self.replid2, self.second_replid_offset,
                 self.replid)

    def create_backlog(self, next_offset=None):
        if next_offset is None:
            next_offset = self.offset + 1
        self.backlog = Backlog(self.config["replBacklogSize"], next_offset, self.primary.pin)
        self.base_offset = next_offset - 1
        self.sync_feed()

    def free_backlog(self):
        if self.backlog is not None:
            self.base_offset = self.backlog.offset
        self.backlog = None
        self.sync_feed()

    def sync_feed(self):
        """The primary's feed is a propagator only while there is a backlog
        to write and this node is a master (a replica's stream is the
        master's, fed by the link).  Called after every change of either."""
        self.node.set_propagating(self.primary.feed,
                                  self.backlog is not None and self.master_host is None,
                                  hub_safe=False)       # (marks the writer's greenlet for WAIT)

    # -- role changes ---------------------------------------------------------------
    def _apply_role(self):
        node = self.node
        replica = self.master_host is not None
        node.is_replica_node = replica
        node.replica_read_only = replica and self.config["replicaReadOnly"]
        ks = node.keyspace
        ks.active_expire_enabled = not replica
        ks.track_replica_expires = replica and not self.config["replicaReadOnly"]
        self._refresh_expire_guard(ks.track_replica_expires)
        if not replica:
            ks.serving_master_stream = False
        host_port = "%s %d" % (self.master_host, self.master_port) if replica else ""
        self.config.values["replicaof"] = host_port
        self.primary.refresh_guard()
        if self.link is not None:
            self.link.refresh_stale_gate()
        else:
            node.set_gate_all(False, "masterdown")

    # A writable replica deletes the expired keys a client's write meets
    # (Redis's lookupKeyWrite with EXPIRE_FORCE_DELETE_EXPIRED): a write
    # guard (only writes reach it) sets keyspace.force_expire_writes until
    # the event loop's next iteration (commands run without yielding).
    def _refresh_expire_guard(self, need):
        node = self.node
        self._expire_guard_active = need
        installed = getattr(self, "_expire_guard_installed", False)
        if need and not installed:
            self._expire_prev_guard = node.write_guard
            node.write_guard = self._expire_guard
            self._expire_guard_installed = True
        elif not need and installed and node.write_guard == self._expire_guard:
            node.write_guard = self._expire_prev_guard
            self._expire_prev_guard = None
            self._expire_guard_installed = False

    def _expire_guard(self, client, spec):
        prev = self._expire_prev_guard
        if prev is not None:
            prev(client, spec)
        if self._expire_guard_active and not client.is_master:
            ks = self.node.keyspace
            if not ks.force_expire_writes:
                ks.force_expire_writes = True
                gevent.get_hub().loop.run_callback(self._end_force_expire)

    def _end_force_expire(self):
        self.node.keyspace.force_expire_writes = False

    def set_master(self, host, port, who=None):
        """REPLICAOF host port: replicate from a (new) master."""
        node = self.node
        was_master = self.master_host is None
        if self.link is not None:
            self.link.stop()
            self.link = None
        self.master_host, self.master_port = host, port
        self.sync_feed()
        if was_master:
            self.primary.unblock_blocked_clients()
            # Our own history as a cached master: if the new master was our
            # replica (now promoted), it continues from it.
            self.cached = (self.replid, self.offset, 0)
            log.info("Before turning into a replica, using my own master parameters to "
                     "synthesize a cached master: I may be able to synchronize with the new "
                     "master with just a partial transfer.")
        self.link = MasterLink(self, host, port)
        self._apply_role()
        if who:
            log.info("REPLICAOF %s:%d enabled (user request from '%s')", host, port, who)
        self.link.start()
        return node

    def unset_master(self, who=None, quiet=False):
        """REPLICAOF NO ONE: become a master, keeping the data and, as the
        secondary ID, the replication history.  (``quiet``: the caller logs
        why, as a failover does.)"""
        if self.master_host is None:
            return
        if self.link is not None:
            self.link.stop()
            self.link = None
        self.cached = None
        self.master_host = self.master_port = None
        self.sync_feed()
        self.shift_replid()
        # Our replicas learn the new ID by reconnecting (partial resync).
        self.primary.disconnect_all("the replication ID changed")
        self.primary.seldb = -1
        self.primary.no_links_since = time.time()
        if self.backlog is None:
            self.create_backlog()
        self._apply_role()
        if not quiet:
            log.info("MASTER MODE enabled (user request from '%s')", who or "config")

    # -- API used by the cluster subsystem --------------------------------------------------
    def master_address(self):
        """(host, port) of the master, or None on a master."""
        if self.master_host is None:
            return None
        return self.master_host, self.master_port

    def replicaof(self, target, who="cluster"):
        """``None``: become a master; ``(host, port)``: replicate from it
        (nothing to do when already replicating from it)."""
        if target is None:
            self.unset_master(who=who)
            return
        host, port = target
        if self.master_host is not None and self.master_host.lower() == str(host).lower() \
                and self.master_port == int(port):
            return
        self.set_master(str(host), int(port), who=who)

    # -- RDB aux fields / restart --------------------------------------------------------
    def rdb_aux(self):
        """repl-stream-db, repl-id, repl-offset in every RDB, as Redis writes
        them: a replica restarted from it resumes with a partial resync."""
        if self.master_host is not None:
            link = self.link
            if link is not None and link.client is not None:
                return [("repl-stream-db", link.client.db.id), ("repl-id", self.replid),
                        ("repl-offset", link.reploff)]
            if self.cached is not None:
                rid, off, dbid = self.cached
                return [("repl-stream-db", dbid), ("repl-id", rid), ("repl-offset", off)]
            return []
        if self.backlog is None:
            return []
        seldb = self.primary.seldb
        return [("repl-stream-db", seldb if seldb >= 0 else 0), ("repl-id", self.replid),
                ("repl-offset", self.offset)]

    def restore_from_rdb(self):
        """At start, after the data set was loaded: the replication ID and
        offset of the RDB file (if it has them)."""
        p = getattr(self.node, "persistence", None)
        expired = getattr(p, "load_expired_names", None) or []
        if p is not None:
            p.load_expired_names = None
        if self.config.values.get("appendOnly"):
            return      # the data came from the AOF: an RDB preamble's offset is not its state
        aux = getattr(p, "loaded_aux", None) or {}
        if aux.get("aof-base") not in (None, b"0", 0, "0"):
            return
        rid = aux.get("repl-id")
        off = aux.get("repl-offset")
        if not rid or off is None:
            return
        try:
            rid = rid.decode() if isinstance(rid, bytes) else str(rid)
            off = int(off)
            dbid = int(aux.get("repl-stream-db", b"0") or 0)
        except (ValueError, UnicodeDecodeError):
            return
        if len(rid) != 40 or off < 0:
            return
        if self.master_host is not None:
            self.replid = rid
            self.base_offset = off
            self.cached = (rid, off, max(0, dbid))
            log.info("Using the replication ID and offset of the RDB file (%s:%d) for a "
                     "partial resynchronization with the master", rid, off)
        else:
            # As Redis: the old history becomes the secondary ID, so replicas
            # of this master before its restart can continue partially.
            self.replid2 = rid
            self.second_replid_offset = off + 1
            self.base_offset = off
            self.create_backlog(off + 1)
            self.primary.no_links_since = time.time()
            # The keys the load skipped as expired are deleted on the
            # replicas too: a DEL each in the stream after the recorded
            # offset (as Redis's RDBFLAGS_FEED_REPL load).
            feed = self.primary.feed
            for dbid, key in expired:
                feed(dbid, [[b"DEL", key]])
            log.info("Replication history of the RDB file kept as secondary ID %s up to "
                     "offset %d", rid, off)

    # -- INFO / ROLE ----------------------------------------------------------------------
    def info(self):
        conf = self.config
        out = [("role", self.role)]
        link = self.link
        if self.master_host is not None:
            now = time.time()
            state = link.state if link is not None else "connect"
            client = link.client if link is not None else None
            if client is not None:
                read_off, applied = link.read_reploff, link.reploff
                last_io = int(now - link.lastio)
            elif self.cached is not None:
                read_off = applied = self.cached[1]
                last_io = -1
            else:
                read_off = applied = 1
                last_io = -1
            out += [("master_host", self.master_host), ("master_port", self.master_port),
                    ("master_link_status", "up" if state == "connected" else "down"),
                    ("master_last_io_seconds_ago", last_io),
                    ("master_sync_in_progress", 1 if state == "sync" else 0),
                    ("slave_read_repl_offset", read_off),
                    ("slave_repl_offset", applied)]
            if state == "sync" and link is not None:
                size, done = link.transfer_size, link.transfer_read
                out += [("master_sync_total_bytes", size), ("master_sync_read_bytes", done),
                        ("master_sync_left_bytes", size - done),
                        ("master_sync_perc", "%.2f" % (100.0 * done / size if size else 0.0)),
                        ("master_sync_last_io_seconds_ago", int(now - link.transfer_lastio))]
            if state != "connected":
                down = link.down_since if link is not None else None
                out.append(("master_link_down_since_seconds",
                            int(now - down) if down else -1))
            out += [("slave_priority", conf["replicaPriority"]),
                    ("slave_read_only", 1 if conf["replicaReadOnly"] else 0),
                    ("replica_announced", 1 if conf["replicaAnnounced"] else 0)]
        p = self.primary
        out.append(("connected_slaves", len(p.links)))
        if conf["minReplicasToWrite"] and conf["minReplicasMaxLag"]:
            out.append(("min_slaves_good_slaves", p.good_replicas()))
        now = time.time()
        i = 0
        for l in p.links:
            if l.closed:
                continue
            out.append(("slave%d" % i, "ip=%s,port=%d,state=%s,offset=%d,lag=%d" % (
                l.ip, l.listening_port, l.info_state(), l.ack_off, int(now - l.ack_time))))
            i += 1
        bl = self.backlog
        out += [("master_failover_state", self.failover_state),
                ("master_replid", self.replid),
                ("master_replid2", self.replid2),
                ("master_repl_offset", self.offset),
                ("second_repl_offset", self.second_replid_offset),
                ("repl_backlog_active", 1 if bl is not None else 0),
                ("repl_backlog_size", conf["replBacklogSize"]),
                ("repl_backlog_first_byte_offset", bl.first if bl is not None else 0),
                ("repl_backlog_histlen", len(bl.buf) if bl is not None else 0)]
        return out

    def role_reply(self):
        if self.master_host is None:
            replicas = [[l.ip.encode(), b"%d" % l.listening_port, b"%d" % l.ack_off]
                        for l in self.primary.links if l.state == "online" and not l.closed]
            return [b"master", self.offset, replicas]
        link = self.link
        state = link.role_state() if link is not None else "connect"
        off = link.reploff if link is not None and link.client is not None else -1
        return [b"slave", self.master_host.encode(), self.master_port, state.encode(), off]

    # -- stats -------------------------------------------------------------------------------
    def reset_stats(self):
        s = self.node.stats
        s.sync_full = s.sync_partial_ok = s.sync_partial_err = 0
        s.net_repl_input_bytes = s.net_repl_output_bytes = 0
        s.unexpected_error_replies = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self):
        """Start hook (after the data set was loaded)."""
        self.restore_from_rdb()
        self.node.spawn_background(self.primary.cron)
        if self.link is not None:
            self.link.start()

    def shutdown_check(self, save):
        """SHUTDOWN: nothing to check (nodensync/shutdown.py waits up to
        shutdown-timeout for the replicas, writes paused, before the final
        save)."""

    def on_shutdown(self, save):
        """First shutdown hook: a replica closes its link."""
        if self.link is not None:
            self.link.stop()


def attach(node):
    repl = Replication(node)
    node.replication = repl
    node.replication_info = repl.info
    node.is_replica_node = False
    repl.reset_stats()
    node.resetstat_hooks.append(repl.reset_stats)
    p = repl.primary
    repl.sync_feed()                   # p.feed registers while it has a backlog to fill
    node.keyspace.expired_listeners.append(p.expired)
    node.client_close_hooks.append(p.client_closed)
    node.shutdown_checks.insert(0, repl.shutdown_check)
    node.shutdown_hooks.insert(0, repl.on_shutdown)
    persistence = getattr(node, "persistence", None)
    if persistence is not None:
        persistence.aux_providers.append(repl.rdb_aux)
        persistence.rdb.done_hooks.append(p.bgsave_done)
    conf = node.config
    conf.on_change("replicaReadOnly", lambda v: repl._apply_role())
    conf.on_change("replBacklogSize",
                   lambda v: repl.backlog.resize(v) if repl.backlog is not None else None)
    conf.on_change("minReplicasToWrite", lambda v: p.refresh_guard())
    conf.on_change("minReplicasMaxLag", lambda v: p.refresh_guard())
    conf.on_change("replicaServeStaleData",
                   lambda v: repl.link.refresh_stale_gate() if repl.link is not None else None)
    target = conf["replicaof"]
    if target:
        host, port = target.rsplit(" ", 1)
        repl.master_host, repl.master_port = host, int(port)
        repl.link = MasterLink(repl, host, int(port))
        repl._apply_role()     # before the data set is loaded: keep expired keys
    else:
        p.refresh_guard()
    node.start_hooks.append(repl.start)
    return repl


@section("replication")
def _info(node):
    repl = getattr(node, "replication", None)
    if repl is None:
        return []
    return repl.info()
