"""The control plane: the cluster's configuration (``topology.Topology``)
replicated with Raft (pysyncobj).

Raft decides *configuration* only -- who is in the cluster, which master
serves which slot, open migrations, epochs, failovers.  Data replication
stays Redis's asynchronous master -> replica stream.  A change is an
operation ``(name, args)`` proposed by any member; pysyncobj forwards it to
the leader, which appends it to the log; once a majority stored it, every
member applies it, in log order, to its copy of the topology.  A minority
cannot commit anything, so a partitioned minority never promotes a replica.

pysyncobj inside a gevent process (settings measured here, see GUIDE 4):

* ``autoTick=False`` and a greenlet calling ``doTick(0.05)``: the poll in
  doTick is gevent's, so it yields to clients while waiting for packets;
* ``appendEntriesUseBatch=False``: an entry is sent as soon as it is
  proposed (commit in ~1 ms instead of the next 50-100 ms batch);
* ``connectionTimeout=1e5``: a silent peer is not dropped, only a closed
  connection is (else every failover also split the vote);
* ``leaderFallbackTimeout=2.5`` s: a leader cut from the majority steps down;
* journal and dump files in the data directory: a restarted member resumes
  from its log; every callback pysyncobj calls is wrapped in try/except (an
  exception escaping into pysyncobj wedges it).

Membership: the first ``cluster-raft-voters`` members (5 by default) vote;
members that join later follow the log as pysyncobj *read-only* nodes
(``selfNode=None``): they apply every change and can propose, but do not
count in elections or commits, so a 30-node cluster still commits with 3
of 5 votes.  Voters join with pysyncobj's dynamic membership change.

Followers get no callback when the leader changes, so a new leader commits a
``leader`` entry: that tells every member who leads and proves the new
leader holds a majority before it acts (failure detection, failovers).
"""
import logging
import os
import time

import gevent
from gevent.event import AsyncResult

from pysyncobj import SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj.config import FAIL_REASON

from .topology import Topology

log = logging.getLogger("nodensync.cluster")

_REASONS = {v: k for k, v in vars(FAIL_REASON).items() if not k.startswith("_")}
# Outcomes after which the operation certainly did not commit: safe to retry.
_RETRY = {FAIL_REASON.MISSING_LEADER, FAIL_REASON.QUEUE_FULL, FAIL_REASON.NOT_LEADER,
          FAIL_REASON.DISCARDED, FAIL_REASON.LEADER_CHANGED, FAIL_REASON.REQUEST_DENIED}

NO_QUORUM = ("CLUSTERDOWN The cluster configuration could not be changed: no Raft leader "
             "with a majority of the voting members is reachable")


class RaftError(Exception):
    pass


class TopologyStore(SyncObjConsumer):
    """The replicated object: one operation method, the state in ``topo``."""

    def __init__(self, on_change=None):
        # Attributes set before SyncObjConsumer.__init__ are not serialized
        # into snapshots (only state created after it is).
        self._on_change = on_change
        super().__init__()
        self.topo = Topology()

    @replicated
    def op(self, name, args):
        try:
            if name == "barrier":
                return "OK"
            result = self.topo.apply(name, tuple(args))
        except Exception:
            log.exception("applying cluster operation %s%r failed", name, tuple(args))
            result = "ERR internal error applying %s" % name
        try:
            if self._on_change is not None:
                self._on_change()
        except Exception:
            log.exception("topology change hook failed")
        return result

    def _deserialize(self, data):
        super()._deserialize(data)
        try:
            if self._on_change is not None:
                self._on_change()
        except Exception:
            log.exception("topology change hook failed")


def _safe(fn):
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except Exception:
            log.exception("raft callback failed")
    return wrapper


class ControlPlane:
    """Owns the SyncObj of this node (none until the node joins a cluster)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.local = Topology()          # the configuration before joining
        self.sync = None
        self.store = None
        self.self_addr = None            # "ip:busport" for a voter, None for a read-only member
        self.greenlet = None
        self.was_leader = False
        self.last_loop = time.monotonic()
        self.loop_gap_max = 0.0
        self.leader_announced_term = -1
        self.commits = 0

    # -- state --------------------------------------------------------------
    @property
    def topo(self):
        store = self.store
        return store.topo if store is not None else self.local

    @property
    def joined(self):
        return self.sync is not None

    def _files(self):
        d = self.cluster.data_dir
        return os.path.join(d, "raft.journal"), os.path.join(d, "raft.dump")

    # -- lifecycle ----------------------------------------------------------
    def start(self, self_addr, peers):
        """Create this node's Raft member: a voter listening on
        ``self_addr`` ("ip:busport") or a read-only member (``None``),
        partnered with ``peers`` (voters' bus addresses)."""
        if self.sync is not None:
            return
        journal, dump = self._files()
        timeout_s = self.cluster.node_timeout_ms() / 1000.0
        bind = None
        if self_addr is not None:
            host, port = self_addr.rsplit(":", 1)
            bind_host = self.cluster.bind_host()
            bind = "%s:%s" % (bind_host, port)
        conf = SyncObjConf(
            autoTick=False,
            appendEntriesUseBatch=False,
            connectionTimeout=1e5,
            connectionRetryTime=0.5,
            raftMinTimeout=0.4,
            raftMaxTimeout=1.2,
            appendEntriesPeriod=0.1,
            leaderFallbackTimeout=max(1.5, min(3.0, timeout_s * 1.25)),
            dynamicMembershipChange=True,
            commandsWaitLeader=True,
            journalFile=journal,
            fullDumpFile=dump,
            useFork=False,
            bindAddress=bind,
            bindRetryTime=0.1,
            maxBindRetries=1,          # never spin in SyncObj() on a busy port
            logCompactionMinEntries=20000,
            logCompactionMinTime=600,
            onStateChanged=_safe(self._on_state_changed),
        )
        store = TopologyStore(on_change=self.cluster.topology_changed)
        peers = [p for p in peers if p != self_addr]
        try:
            sync = SyncObj(self_addr, peers, conf=conf, consumers=[store])
        except Exception as e:
            raise RaftError("cannot start the control plane on %s: %s (is the cluster bus "
                            "port free?)" % (self_addr or "a read-only member", e)) from None
        self.sync = sync
        self.store = store
        self.self_addr = self_addr
        self.was_leader = False
        self.leader_announced_term = -1
        self.last_loop = time.monotonic()
        self.cluster.alive_until = self.last_loop + self.cluster.stall_threshold
        self.greenlet = gevent.spawn(self._run, self.sync)
        self.cluster.topology_changed()
        log.info("Cluster control plane started as %s with peers %s",
                 self_addr or "read-only member", ", ".join(peers) or "(none)")

    def stop(self, wipe=False):
        sync = self.sync
        self.sync = None
        self.store = None
        self.cluster.alive_until = float("inf")
        g = self.greenlet
        self.greenlet = None
        if g is not None and g is not gevent.getcurrent():
            g.kill(block=False)
        if sync is not None:
            try:
                sync.destroy()
            except Exception:
                log.exception("stopping the Raft member failed")
        if wipe:
            for path in self._files():
                for p in (path, path + ".meta", path + ".tmp"):
                    try:
                        os.unlink(p)
                    except OSError:
                        pass
        self.cluster.topology_changed()

    def _run(self, sync):
        threshold = None
        while self.sync is sync:
            now = time.monotonic()
            gap = now - self.last_loop
            self.last_loop = now
            if threshold is None or gap > 0.5:
                threshold = max(1.0, self.cluster.node_timeout_ms() / 1000.0 * 0.75)
            if gap > self.loop_gap_max:
                self.loop_gap_max = gap
            self.cluster.alive_until = now + self.cluster.stall_threshold
            if gap > threshold:
                # SIGSTOP, a debugger or a starved process: what we know of
                # the configuration may be old (a failover may have happened
                # without us): stop serving keys until a barrier commits.
                self.cluster.on_stall(gap)
            try:
                sync.doTick(0.05)
            except Exception:
                log.exception("Raft tick failed")
                gevent.sleep(0.05)
            try:
                self._after_tick(sync)
            except Exception:
                log.exception("Raft post-tick hook failed")

    def _after_tick(self, sync):
        leader = sync._isLeader()
        if leader and not self.was_leader:
            self.was_leader = True
            term = sync.raftCurrentTerm
            gevent.spawn(self._announce, term)
        elif not leader and self.was_leader:
            self.was_leader = False
            self.cluster.leadership_changed(False)

    def _announce(self, term):
        """A new leader commits an entry naming itself (in its term)."""
        try:
            self.propose("leader", self.cluster.my_id, term, timeout=5.0, retry=False)
        except RaftError as e:
            log.warning("New Raft leader could not announce itself: %s", e)
            return
        if self.sync is not None and self.sync._isLeader() and self.sync.raftCurrentTerm == term:
            self.leader_announced_term = term
            log.info("This node is the cluster control plane leader (term %d)", term)
            self.cluster.leadership_changed(True)

    def _on_state_changed(self, old, new):
        pass

    # -- queries ------------------------------------------------------------
    def is_leader(self):
        s = self.sync
        return s is not None and s._isLeader() and \
            self.leader_announced_term == s.raftCurrentTerm

    def leader_addr(self):
        s = self.sync
        if s is None:
            return None
        node = s._getLeader()
        return getattr(node, "address", None) if node is not None else None

    def status(self):
        s = self.sync
        if s is None:
            return {"state": "none"}
        try:
            st = s.getStatus()
        except Exception:
            return {"state": "unknown"}
        names = {0: "follower", 1: "candidate", 2: "leader"}
        return {
            "state": names.get(st.get("state"), str(st.get("state"))) if self.self_addr else "read-only",
            "leader": getattr(st.get("leader"), "address", "") or "",
            "term": st.get("raft_term", 0),
            "commit_index": st.get("commit_idx", 0),
            "last_applied": st.get("last_applied", 0),
            "voters": st.get("partner_nodes_count", 0) + (1 if self.self_addr else 0),
            "readonly_members": st.get("readonly_nodes_count", 0),
            "has_quorum": bool(st.get("has_quorum")),
            "log_len": st.get("log_len", 0),
        }

    def voter_addresses(self):
        s = self.sync
        if s is None:
            return []
        out = [n.address for n in s.otherNodes]
        if self.self_addr:
            out.append(self.self_addr)
        return sorted(out)

    # -- proposing ------------------------------------------------------------
    def propose(self, op, *args, timeout=5.0, retry=True):
        """Commit one operation; returns its result once applied on this
        node.  An ``"ERR ..."`` result (the state machine refused it) is
        returned as is; no commit within ``timeout`` raises RaftError."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            s = self.sync
            store = self.store
            if s is None or store is None:
                # Not in a cluster yet: apply to the local configuration.
                result = self.local.apply(op, args) if op != "barrier" else "OK"
                self.cluster.topology_changed()
                self.cluster.save_local()
                return result
            ar = AsyncResult()

            def done(res, err, ar=ar):
                if not ar.ready():
                    ar.set((res, err))
            try:
                store.op(op, list(args), callback=done)
            except Exception as e:
                raise RaftError("proposing %s failed: %s" % (op, e)) from None
            left = deadline - time.monotonic()
            try:
                res, err = ar.get(timeout=max(0.0, left))
            except gevent.Timeout:
                raise RaftError(NO_QUORUM) from None
            if err == FAIL_REASON.SUCCESS:
                self.commits += 1
                return res
            if not retry or err not in _RETRY or time.monotonic() + delay >= deadline:
                raise RaftError("%s (%s)" % (NO_QUORUM, _REASONS.get(err, err)))
            gevent.sleep(delay)
            delay = min(0.5, delay * 2)

    def barrier(self, timeout=5.0):
        """Wait until every change committed before now is applied here."""
        return self.propose("barrier", timeout=timeout)

    def change_membership(self, add, address, timeout=10.0):
        """Add or remove a voter (one change at a time, retried while another
        is pending).  True once committed; False if it was already so."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            s = self.sync
            if s is None:
                raise RaftError("not in a cluster")
            ar = AsyncResult()

            def done(res, err, ar=ar):
                if not ar.ready():
                    ar.set(err)
            try:
                (s.addNodeToCluster if add else s.removeNodeFromCluster)(address, callback=done)
            except Exception as e:
                raise RaftError(str(e)) from None
            try:
                err = ar.get(timeout=max(0.0, deadline - time.monotonic()))
            except gevent.Timeout:
                raise RaftError(NO_QUORUM) from None
            if err == FAIL_REASON.SUCCESS:
                return True
            if err == FAIL_REASON.REQUEST_DENIED:
                members = set(self.voter_addresses())
                if (address in members) == add:
                    return False
            if time.monotonic() + delay >= deadline:
                raise RaftError("%s (%s)" % (NO_QUORUM, _REASONS.get(err, err)))
            gevent.sleep(delay)
            delay = min(0.5, delay * 2)
