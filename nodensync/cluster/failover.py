"""Failure detection, automatic and manual failover, and making this node's
replication follow the committed configuration.

* ``HealthMonitor`` (every node): pings every other node's data port a few
  times per node-timeout; a node not answering for ``cluster-node-timeout``
  is PFAIL (``fail?``) in this node's view.  It also feeds CLUSTER NODES'
  ping-sent / pong-recv / link columns.
* ``FailoverController`` (acts on the Raft leader only): a master unreachable
  past the node timeout is failed over -- its reachable replica with the
  largest replication offset (asked with INFO replication) is promoted by
  committing a ``failover`` operation; without a usable replica the master
  is only flagged ``fail``.  Flags are cleared when nodes answer again.
  Being Raft-committed, a failover needs a majority: an isolated minority
  (including an isolated leader, which steps down) never promotes.
* ``Reconciler`` (every node): after every configuration change, makes the
  replication role match it -- a promoted replica stops replicating and
  takes writes, the other replicas of the shard and a returning old master
  replicate the new master.
* ``manual_failover``: CLUSTER FAILOVER on a replica -- the master holds
  writes to its slots, the replica catches up with the master's offset,
  then the switch is committed (no acknowledged write is lost); FORCE and
  TAKEOVER skip the handshake with a master that is down.
"""
import logging
import time

import gevent
from gevent.event import Event

from ..errors import CommandError
from ..observability import info as info_mod
from .raft import RaftError
from .router import PeerClient, PeerError

log = logging.getLogger("nodensync.cluster")


class PeerHealth:
    __slots__ = ("node_id", "last_pong", "ping_sent_ms", "pong_recv_ms", "connected",
                 "greenlet", "pings", "pongs", "offset", "link_ms", "probed")

    def __init__(self, node_id):
        self.node_id = node_id
        self.last_pong = time.monotonic()      # grace period from when we learn of it
        self.ping_sent_ms = 0
        self.pong_recv_ms = 0
        self.connected = False
        self.greenlet = None
        self.pings = 0
        self.pongs = 0
        self.offset = 0         # replication offset, asked every few pings (CLUSTER SHARDS)
        self.link_ms = 0        # when the current outbound connection was made (CLUSTER LINKS)
        self.probed = 0.0       # when the last finished probe (answered or not) was sent


class HealthMonitor:
    def __init__(self, cluster):
        self.cluster = cluster
        self.peers = {}
        self.pings_sent = 0
        self.pongs_received = 0
        # Peers' health-check connections into this node, by the peer's node id:
        # (client, created ms).  Redis's CLUSTER LINKS lists, for every peer, the
        # link "to" it and the link "from" it; ours are the two health checks.
        self.inbound = {}

    def inbound_link(self, node_id, client):
        """A peer announced (CLUSTER NSYNC OFFSET <its id>) that ``client`` is
        its health-check connection to this node."""
        cur = self.inbound.get(node_id)
        if cur is None or cur[0] is not client:
            self.inbound[node_id] = (client, int(time.time() * 1000))

    def client_closed(self, client):
        for nid, (cl, _) in list(self.inbound.items()):
            if cl is client:
                del self.inbound[nid]

    def sync_peers(self, view):
        for nid in view.nodes:
            if nid != view.my_id and nid not in self.peers:
                p = self.peers[nid] = PeerHealth(nid)
                p.greenlet = gevent.spawn(self._ping_loop, p)
        for nid in list(self.peers):
            if nid not in view.nodes or nid == view.my_id:
                p = self.peers.pop(nid)
                if p.greenlet is not None:
                    p.greenlet.kill(block=False)

    def grace(self):
        """After this process was stalled: count every node as just heard."""
        now = time.monotonic()
        for p in self.peers.values():
            p.last_pong = max(p.last_pong, now)

    def stop(self):
        for p in self.peers.values():
            if p.greenlet is not None:
                p.greenlet.kill(block=False)
        self.peers.clear()

    def _ping_loop(self, p):
        conn = None
        while True:
            timeout = self.cluster.node_timeout_ms() / 1000.0
            interval = min(0.2, timeout / 10)
            rec = self.cluster.view.nodes.get(p.node_id)
            if rec is None:
                return
            if conn is None or (conn.host, conn.port) != (rec.ip, rec.port):
                if conn is not None:
                    conn.close()
                conn = PeerClient(rec.ip, rec.port, timeout=max(0.5, timeout),
                                  auth=self.cluster.auth())
            p.ping_sent_ms = int(time.time() * 1000)
            sent = time.monotonic()
            p.pings += 1
            self.pings_sent += 1
            try:
                if p.pings % 5 == 1 or conn.sock is None:
                    # A new connection names this node first: the peer lists it
                    # as the link "from" us in CLUSTER LINKS.
                    fresh = conn.sock is None
                    r = conn.call(b"CLUSTER", b"NSYNC", b"OFFSET", self.cluster.my_id.encode())
                    if fresh:
                        p.link_ms = int(time.time() * 1000)
                    if isinstance(r, int):
                        p.offset = r
                else:
                    conn.call(b"PING")   # any reply (even NOAUTH) means the node is alive
                p.last_pong = time.monotonic()
                p.pong_recv_ms = int(time.time() * 1000)
                p.ping_sent_ms = 0
                p.connected = True
                p.pongs += 1
                self.pongs_received += 1
            except PeerError:
                p.connected = False
                conn.close()
            except Exception:
                log.exception("health check of %s failed", p.node_id)
                p.connected = False
                conn.close()
            p.probed = sent
            gevent.sleep(interval)

    # -- queries ------------------------------------------------------------------
    def age(self, node_id):
        """Seconds since ``node_id`` last answered (0 for this node)."""
        if node_id == self.cluster.my_id:
            return 0.0
        p = self.peers.get(node_id)
        if p is None:
            return 0.0
        return time.monotonic() - p.last_pong

    def probed_since(self, node_id, t):
        """True if a probe of ``node_id`` sent at or after ``t`` has finished."""
        p = self.peers.get(node_id)
        return p is None or p.probed >= t

    def pfail(self, node_id):
        return self.age(node_id) > self.cluster.node_timeout_ms() / 1000.0

    def alive(self, node_id):
        return not self.pfail(node_id)

    def node_state(self, node_id):
        """(ping_sent ms, pong_recv ms, link state, pfail) for CLUSTER NODES."""
        p = self.peers.get(node_id)
        if p is None:
            return 0, 0, "disconnected", False
        return (p.ping_sent_ms, p.pong_recv_ms, "connected" if p.connected else "disconnected",
                self.pfail(node_id))


# -- replication offsets -------------------------------------------------------------------
def parse_offset(fields):
    """Replication offset from INFO replication fields: a replica's
    processed offset (slave_repl_offset), a master's master_repl_offset."""
    role = fields.get("role", "master")
    for name in (("slave_repl_offset", "master_repl_offset") if role == "slave"
                 else ("master_repl_offset",)):
        v = fields.get(name)
        if v is not None:
            try:
                return int(v)
            except ValueError:
                pass
    return 0


def local_replication(node):
    try:
        return info_mod.parse(info_mod.render(node, [b"replication"]))
    except Exception:
        log.exception("INFO replication failed")
        return {}


def local_offset(node):
    return parse_offset(local_replication(node))


def remote_replication(cluster, rec, timeout=1.0):
    peer = PeerClient(rec.ip, rec.port, timeout=timeout, auth=cluster.auth())
    try:
        r = peer.call(b"INFO", b"replication")
    finally:
        peer.close()
    if not isinstance(r, bytes):
        raise PeerError("bad INFO reply from %s" % rec.addr)
    return info_mod.parse(r.decode("utf-8", "replace"))


class FailoverController:
    """Runs on every node; decides only while this node is the announced
    Raft leader."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.greenlet = None
        self.last_attempt = {}
        self.failovers = 0
        self.last_failover = None       # (old, new, seconds from detection to commit)
        self.last_voters_check = 0.0
        # When this node became the announced leader.  What its health monitor
        # measured before may be stale: it was possibly in a minority while the
        # majority, the master among them, was stopped, and the master answers
        # again as soon as the majority does.  A node is judged down only after
        # a probe sent since then went unanswered.
        self.in_office_since = 0.0

    def took_office(self):
        self.in_office_since = time.monotonic()

    def start(self):
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self._run)

    def stop(self):
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None

    def _run(self):
        last = time.monotonic()
        while True:
            gevent.sleep(0.05)
            cluster = self.cluster
            now = time.monotonic()
            gap, last = now - last, now
            try:
                if gap > cluster.stall_threshold:
                    # We were not running (SIGSTOP ...): what we measured of
                    # the others is meaningless, and we may not lead any more.
                    cluster.on_stall(gap)
                    continue
                if (cluster.raft.is_leader() and not cluster.stale
                        and now - cluster.raft.last_loop < 0.5):
                    self._check()
                    if now - self.last_voters_check > 1.0:
                        self.last_voters_check = now
                        self._maintain_voters()
            except Exception:
                log.exception("failure detector pass failed")

    # -- Raft membership follows the configuration ------------------------------------
    def _maintain_voters(self):
        """Forgotten nodes stop voting; while there are fewer voters than
        cluster-raft-voters, a reachable read-only member is promoted."""
        cluster = self.cluster
        raft = cluster.raft
        view = cluster.view
        wanted = {"%s:%d" % (n.ip, n.bus) for n in view.nodes.values() if n.voter}
        for addr in set(raft.voter_addresses()) - wanted:
            if addr == raft.self_addr:
                continue
            log.warning("Removing %s from the control plane voters (no longer in the cluster)",
                        addr)
            try:
                raft.change_membership(False, addr, timeout=5.0)
            except RaftError as e:
                log.warning("Could not remove voter %s: %s", addr, e)
            return
        voters = [n for n in view.nodes.values() if n.voter]
        if len(voters) >= cluster.config["clusterRaftVoters"]:
            return
        for n in view.ordered():
            if n.voter or n.fail or n.id == view.my_id or not cluster.health.alive(n.id):
                continue
            if cluster.health.age(n.id) > 1.0:
                continue
            self._promote(n)
            return

    def _promote(self, rec):
        cluster = self.cluster
        raft = cluster.raft
        addr = "%s:%d" % (rec.ip, rec.bus)
        peers = raft.voter_addresses()
        log.warning("Promoting %s (%s) to a voting member of the control plane", rec.id, addr)
        try:
            res = raft.propose("set_voter", rec.id, True, timeout=5.0)
        except RaftError as e:
            log.warning("Could not promote %s: %s", rec.id, e)
            return
        if isinstance(res, str):
            return
        peer = PeerClient(rec.ip, rec.port, timeout=10.0, auth=cluster.auth())
        try:
            r = peer.call(b"CLUSTER", b"NSYNC", b"PROMOTE", addr.encode(),
                          *[p.encode() for p in peers])
        except PeerError as e:
            r = e
        finally:
            peer.close()
        if r != b"OK":
            log.warning("%s could not become a voter: %s", rec.addr, r)
            try:
                raft.propose("set_voter", rec.id, False, timeout=5.0)
            except RaftError:
                pass
            return
        try:
            raft.change_membership(True, addr, timeout=20.0)
        except RaftError as e:
            log.warning("Voter %s not added: %s", addr, e)

    def _quorum_now(self):
        """Commit a no-op first: a leader that lost its majority appends a
        decision to its log where it could commit much later, when the
        majority is back and the decision is stale.  Deciding only right
        after a commit succeeded keeps that window to milliseconds."""
        timeout = min(1.0, self.cluster.node_timeout_ms() / 2000.0)
        try:
            self.cluster.raft.barrier(timeout=timeout)
        except RaftError:
            return False
        return self.cluster.raft.is_leader()

    def _check(self):
        cluster = self.cluster
        view = cluster.view
        health = cluster.health
        timeout = cluster.node_timeout_ms() / 1000.0
        now = time.monotonic()
        confirmed = False
        for rec in list(view.nodes.values()):
            if rec.id == view.my_id:
                continue
            down = self._down(rec.id, timeout)
            if (down or rec.fail) and not confirmed:
                if not self._quorum_now():
                    return
                confirmed = True
                down = self._down(rec.id, timeout)
            if down:
                if rec.is_master and view.slot_counts.get(rec.id):
                    if now - self.last_attempt.get(rec.id, 0) < 0.5:
                        continue
                    self.last_attempt[rec.id] = now
                    if self.fail_over(rec, "auto"):
                        return          # the view changed: look again next pass
                    if not rec.fail:
                        self._set_fail(rec, True)
                elif not rec.fail:
                    self._set_fail(rec, True)
            elif rec.fail and health.age(rec.id) < timeout / 2:
                self._set_fail(rec, False)

    def _down(self, node_id, timeout):
        health = self.cluster.health
        return (health.age(node_id) > timeout
                and health.probed_since(node_id, self.in_office_since))

    def _set_fail(self, rec, flag):
        try:
            cluster = self.cluster
            cluster.raft.propose("set_fail", rec.id, flag, timeout=2.0)
            log.warning("Cluster state changed: node %s (%s) marked %s", rec.id, rec.addr,
                        "FAIL" if flag else "reachable again")
        except RaftError as e:
            log.warning("Could not commit the FAIL flag of %s: %s", rec.id, e)

    def fail_over(self, master, reason):
        """Promote the best reachable replica of ``master``; True if done."""
        cluster = self.cluster
        view = cluster.view
        health = cluster.health
        factor = cluster.config["clusterReplicaValidityFactor"]
        timeout_s = cluster.node_timeout_ms() / 1000.0
        best = None
        best_offset = -1
        for r in view.replicas_of(master.id):
            if r.fail or (r.id != view.my_id and not health.alive(r.id)):
                continue
            try:
                fields = local_replication(cluster.node) if r.id == view.my_id \
                    else remote_replication(cluster, r)
            except (PeerError, OSError) as e:
                log.info("Replica %s not usable for failover: %s", r.addr, e)
                continue
            if fields.get("role") not in (None, "slave"):
                # already promoted by someone else? still a valid candidate
                pass
            down_since = fields.get("master_link_down_since_seconds")
            if factor and down_since not in (None, "-1"):
                try:
                    if int(down_since) > timeout_s * factor + 10:
                        log.info("Replica %s data too old for failover (%ss)", r.addr, down_since)
                        continue
                except ValueError:
                    pass
            off = parse_offset(fields)
            if off > best_offset or (off == best_offset and best is not None and r.id < best.id):
                best, best_offset = r, off
        if best is None:
            return False
        started = time.monotonic()
        try:
            res = cluster.raft.propose("failover", master.id, best.id, reason, time.time(),
                                       timeout=3.0)
        except RaftError as e:
            log.warning("Failover of %s to %s not committed: %s", master.addr, best.addr, e)
            return False
        if isinstance(res, str):
            log.warning("Failover of %s refused: %s", master.addr, res)
            return False
        self.failovers += 1
        self.last_failover = (master.id, best.id, time.monotonic() - started)
        log.warning("Failover (%s): master %s (%s) replaced by replica %s (%s), offset %d, "
                    "epoch %s", reason, master.id, master.addr, best.id, best.addr, best_offset,
                    res.get("epoch") if isinstance(res, dict) else res)
        return True


def manual_failover(cluster, mode):
    """CLUSTER FAILOVER [FORCE|TAKEOVER] on this (replica) node."""
    view = cluster.view
    me = view.me
    if me is None or me.is_master:
        raise CommandError("ERR You should send CLUSTER FAILOVER to a replica")
    master = view.my_master
    if master is None:
        raise CommandError("ERR I'm a replica but my master is unknown to me")
    if mode is None and (master.fail or cluster.health.pfail(master.id)):
        raise CommandError("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
    node = cluster.node
    if mode is None:
        # Coordinated: the master holds writes, we catch up, then switch.
        pause_ms = max(2000, cluster.node_timeout_ms() * 2)
        peer = PeerClient(master.ip, master.port, timeout=2.0, auth=cluster.auth())
        try:
            r = peer.call(b"CLUSTER", b"NSYNC", b"PAUSE", b"%d" % pause_ms)
        except PeerError as e:
            peer.close()
            raise CommandError("ERR Manual failover failed: master unreachable (%s)" % e) from None
        if not isinstance(r, int):
            peer.close()
            raise CommandError("ERR Manual failover failed: master refused to pause (%s)" % r)
        target = r
        deadline = time.monotonic() + pause_ms / 1000.0 - 0.2
        while local_offset(node) < target:
            if time.monotonic() > deadline:
                try:
                    peer.call(b"CLUSTER", b"NSYNC", b"UNPAUSE")
                finally:
                    peer.close()
                raise CommandError("ERR Manual failover timed out: replica did not reach the "
                                   "master's replication offset")
            gevent.sleep(0.005)
        peer.close()
    try:
        res = cluster.raft.propose("failover", master.id, me.id, "manual" if mode is None else mode,
                                   time.time(), timeout=5.0)
    except RaftError as e:
        raise CommandError(str(e)) from None
    if isinstance(res, str):
        raise CommandError(res)
    log.warning("Manual failover (%s): this node replaces master %s", mode or "default", master.addr)


class Reconciler:
    """Makes this node's replication follow the committed configuration."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.greenlet = None
        self.kick = Event()
        self.applied = None        # what we last asked replication to do

    def start(self):
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self._run)

    def stop(self):
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None

    def poke(self):
        self.kick.set()

    def _run(self):
        while True:
            self.kick.wait(0.5)
            self.kick.clear()
            try:
                self.reconcile()
            except Exception:
                log.exception("replication reconcile failed")
                gevent.sleep(0.5)

    def reconcile(self):
        cluster = self.cluster
        if cluster.stale or not cluster.raft.joined:
            return
        view = cluster.view
        me = view.me
        if me is None:
            return
        repl = cluster.replication
        if me.is_master:
            if repl.is_replica():
                log.warning("Configuration says this node is a master: stopping replication")
                repl.become_master()
        else:
            m = view.my_master
            if m is None:
                return
            cur = repl.master_address()
            if cur != (m.ip, m.port):
                log.warning("Configuration says this node replicates %s (%s)", m.id, m.addr)
                repl.replicate(m.ip, m.port)
