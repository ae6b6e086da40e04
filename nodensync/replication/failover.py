"""FAILOVER: a switchover coordinated by the master (Redis 6.2+).

``FAILOVER [TO host port [FORCE]] [TIMEOUT ms]`` on a master:

1. writes are paused (Redis's PAUSE_DURING_FAILOVER: as CLIENT PAUSE WRITE,
   without an end, not ended by CLIENT UNPAUSE) and the state is
   ``waiting-for-sync``;
2. every 100 ms (and at every ACK) the master looks for its target (the
   replica given with TO, or the first online replica whose ACK equals the
   master's offset): once it acknowledged the whole stream, or at the end
   of the TIMEOUT with FORCE, the state is ``failover-in-progress`` and the
   master turns itself into a replica of the target (REPLICAOF);
3. its link sends ``PSYNC <replid> <offset> FAILOVER``: the target, still a
   replica with that same replication ID, becomes a master (as REPLICAOF NO
   ONE: the history as its secondary ID) and answers the PSYNC, normally
   with +CONTINUE;
4. +CONTINUE or +FULLRESYNC ends the failover (writes resume: the held
   writes, now on a replica, get -READONLY); any other reply aborts it (the
   node becomes a master again).

A TIMEOUT without FORCE aborts it in step 2, FAILOVER ABORT in step 2 or 3.
REPLICAOF is refused meanwhile, and so are replicas' SYNC/PSYNC.
"""
import logging
import time

log = logging.getLogger("nodensync.replication")

NO_FAILOVER = "no-failover"
WAIT_FOR_SYNC = "waiting-for-sync"
IN_PROGRESS = "failover-in-progress"


class Failover:
    def __init__(self, repl):
        self.repl = repl
        self.state = NO_FAILOVER
        self.host = None              # target (None: any replica, chosen when in sync)
        self.port = 0
        self.end = 0.0                # monotonic deadline (0: none)
        self.force = False

    # -- the target -------------------------------------------------------------------
    def find_replica(self, host, port):
        """Redis's findReplica: the replica link announcing ``host:port``
        (its REPLCONF ip-address, or its peer address)."""
        host = host.lower()
        for link in self.repl.primary.links:
            if not link.closed and link.ip.lower() == host and link.listening_port == port:
                return link
        return None

    # -- steps ---------------------------------------------------------------------------
    def start(self, host, port, timeout_ms, force):
        """FAILOVER's arguments were checked by the command."""
        if host is not None:
            self.host, self.port = host, port
            log.info("FAILOVER requested to %s:%d.", host, port)
        else:
            log.info("FAILOVER requested to any replica.")
        self.end = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else 0.0
        self.force = force
        self.state = WAIT_FOR_SYNC
        self._pause(True)

    def update(self):
        """Redis's updateFailoverStatus (the replication cron, every 100 ms
        during a failover, and every ACK)."""
        if self.state != WAIT_FOR_SYNC:
            return
        repl = self.repl
        if self.end and self.end <= time.monotonic():
            if self.force:
                log.info("FAILOVER to %s:%d time out exceeded, failing over.",
                         self.host, self.port)
                self._switch()
            else:
                self.abort("Replica never caught up before timeout")
            return
        offset = repl.offset
        link = None
        if self.host is not None:
            link = self.find_replica(self.host, self.port)
        else:
            # (A SYNC client such as redis-cli --replica never ACKs and
            # could not take the PSYNC: not a candidate.)
            for l in repl.primary.links:
                if (not l.closed and l.state == "online" and not l.pre_psync
                        and l.ack_off == offset):
                    self.host, self.port = l.ip, l.listening_port
                    link = l
                    break
        if link is not None and link.ack_off == offset:
            log.info("Failover target %s:%d is synced, failing over.", self.host, self.port)
            self._switch()

    def _switch(self):
        self.state = IN_PROGRESS
        self.repl.set_master(self.host, self.port)

    def psync_reply(self, ok):
        """The target answered our PSYNC ... FAILOVER: +CONTINUE or
        +FULLRESYNC (``ok``) ends the failover, anything else aborts it.
        False when the link must stop (aborted: this node is a master again)."""
        if self.state != IN_PROGRESS:
            return True
        if ok:
            self.clear()
            return True
        self.abort("Failover target rejected psync request")
        return False

    def clear(self):
        """Redis's clearFailoverState: no failover, writes resume."""
        self.end = 0.0
        self.force = False
        self.host = None
        self.port = 0
        self.state = NO_FAILOVER
        self._pause(False)

    def abort(self, why):
        """Redis's abortFailover: back to a master if the switch was made."""
        if self.state == NO_FAILOVER:
            return
        if self.host is not None:
            log.info("FAILOVER to %s:%d aborted: %s", self.host, self.port, why)
        else:
            log.info("FAILOVER to any replica aborted: %s", why)
        if self.state == IN_PROGRESS:
            self.repl.unset_master(who=None, quiet=True)
        self.clear()

    def _pause(self, on):
        from ..commands.monitoring import PauseState
        node = self.repl.node
        state = getattr(node, "pause_state", None)
        if state is None:
            state = node.pause_state = PauseState(node)
        state.hold(on, "failover")
