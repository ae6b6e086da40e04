"""One NodeNsync process: settings, keyspace, clients, stats and the hooks
that subsystems (persistence, replication, cluster, security, metrics)
attach to."""
import binascii
import logging
import os
import random
import time
from collections import deque

import gevent

from . import __version__, REDIS_VERSION
from .pacing import Pacer
from .commands.registry import FAST_STAT_US
from .observability.metrics import latency_sample
from .protocol.resp import encode_command
from .storage.keyspace import Keyspace

log = logging.getLogger("nodensync")


class GateList(list):
    """A list of per-command observers (MONITOR clients, listeners): while it
    is non-empty, clients skip the inline fast path so observers see every
    command."""

    def __init__(self, node):
        super().__init__()
        self._node = node
        self._reason = "observers-%d" % id(self)

    def _changed(self):
        self._node.set_gate_all(bool(self), self._reason)

    def append(self, item):
        super().append(item)
        self._changed()

    def remove(self, item):
        super().remove(item)
        self._changed()

    def clear(self):
        super().clear()
        self._changed()

    def extend(self, items):
        super().extend(items)
        self._changed()

    def pop(self, *a):
        item = super().pop(*a)
        self._changed()
        return item

    def __delitem__(self, i):
        super().__delitem__(i)
        self._changed()


class Stats:
    """Counters reported by INFO stats; CONFIG RESETSTAT zeroes them."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.connections_received = 0
        self.rejected_connections = 0
        self.rejected_calls = 0
        self.error_replies = 0
        self.errors_by_kind = {}
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.pubsub_channels_published = 0
        self.client_query_buffer_limit_disconnections = 0
        self.client_output_buffer_limit_disconnections = 0
        self.evicted_clients = 0

    def error(self, message):
        self.error_replies += 1
        kind = message.split(" ", 1)[0]
        self.errors_by_kind[kind] = self.errors_by_kind.get(kind, 0) + 1


class Node:
    client_eviction = None      # security/client_eviction.py, while maxmemory-clients is set
    # A command that ran for less than ``stat_fast_ns`` is counted on the
    # client loop's inline path with one increment of ``spec.fast`` (see
    # registry.CommandSpec): under 32 us and under the slow log / latency
    # monitor threshold, where the per-microsecond counts say everything
    # the stats, histogram and slow log need.
    @property
    def slowlog_threshold_us(self):
        return self._slowlog_threshold_us

    @slowlog_threshold_us.setter
    def slowlog_threshold_us(self, us):
        self._slowlog_threshold_us = us
        self.stat_fast_ns = min(FAST_STAT_US, us) * 1000 if us >= 0 else FAST_STAT_US * 1000

    def __init__(self, config):
        self.config = config
        self.keyspace = Keyspace(config["databases"])
        self.keyspace.set_notify_flags(config["notifyKeyspaceEvents"])
        self.stats = Stats()
        # time.monotonic() as of the last cron tick (hz times a second), for
        # what needs seconds, not microseconds: a clock read costs ~170 ns
        # on this kind of VM, too much to pay on every client read
        # (Redis's cached server.unixtime, for the same reason).
        self.mono_now = time.monotonic()
        # DEBUG PAUSE-CRON / SET-DISABLE-DENY-SCRIPTS (Redis's pause_cron,
        # script_disable_deny_script): test switches.
        self.cron_paused = False
        self.script_disable_deny = False
        self.clients = {}                 # id -> Client
        self.next_client_id = 1
        self.run_id = binascii.hexlify(os.urandom(20)).decode()
        self.started = time.time()
        self.started_monotonic = time.monotonic()
        self.rng = random.Random()
        self.version = __version__
        self.redis_version = REDIS_VERSION
        self.start_hooks = []             # fn() once listening
        self.request_shutdown = None      # set by cli: fn(save) -> stops the process
        self.shutdown_ctl = None          # set by cli: shutdown.Shutdown (SHUTDOWN, signals)
        self.loading = False
        self.shutting_down = False
        self.listener = None              # server.listener.Listener
        self.unix_listener = None         # server.listener.UnixListener (unixsocket)
        self.tcp_port = config["listenAddr"][1]
        # Hooks read by dispatch; None/empty means the feature is off.
        # A subsystem that needs dispatch's checks for every client (cluster
        # routing, CLIENT PAUSE) calls set_gate_all(True).
        self.gate_all = False
        self.gate_reasons = set()
        self.acl = None
        self.cluster = None
        self.write_gated = False          # any of the three below is set
        self._memory = None
        self._write_guard = None          # fn(client, spec): MISCONF, min-replicas ...
        self._replica_read_only = False
        # Per-command observers.  While MONITOR clients or command listeners
        # exist, the client loop's inline fast path is off.
        self.monitors = GateList(self)
        # fn(dbid, [argv, ...]) for each propagator that has work to do: the
        # AOF and the replication stream register themselves only while
        # active (set_propagating), so with neither on a write pays one
        # truth test.  EXEC swaps this attribute for a capture list during
        # its block; set_propagating always edits the node's own list.
        self.propagators = self._propagators = []
        # Propagators that need the writing client's greenlet to be the
        # current one (the replication feed marks it for WAIT): while any is
        # active the event loop runs no client's commands itself
        # (server/client.py _serve_in_hub).
        self._hub_unsafe_props = []
        self.hub_unsafe_propagation = False
        self.command_listeners = GateList(self)  # fn(client, spec, argv, usec)
        self.client_open_hooks = []       # fn(client) when a connection starts
        self.client_close_hooks = []      # fn(client) when a connection ends
        # client kind -> (hard bytes, soft bytes, soft seconds); 0 = no limit
        self.output_limits = {"pubsub": (32 * 1024 ** 2, 8 * 1024 ** 2, 60),
                              "replica": (256 * 1024 ** 2, 64 * 1024 ** 2, 60)}
        # The smallest hard output limit set for any class (pubsub/broker.py
        # keeps it up to date): a reply bigger than that is checked against
        # its client's limit before it is sent.
        self.output_hard_min = 32 * 1024 ** 2
        self.shutdown_hooks = []          # fn(save) during graceful stop
        self.shutdown_checks = []         # fn(save): raise CommandError to refuse SHUTDOWN
        self.reset_hooks = []             # fn(client) on RESET
        self.resetstat_hooks = []         # fn() on CONFIG RESETSTAT
        self.flushall_hooks = []          # fn() after FLUSHALL          # fn(save: bool|None) before exit
        self.info_sections = {}           # name -> fn() -> [(field, value)]
        self.slowlog = deque(maxlen=128)
        self.slowlog_next_id = 0
        self.slowlog_threshold_us = 10000   # (also sets stat_fast_ns, see below)
        self.client_pause = None          # fn(client, spec) while CLIENT PAUSE is active
        self.reply_barrier = None         # fn(client) before its replies go out (AOF always: group fsync)
        self.reload_hooks = []            # fn() on SIGHUP (after the log file is reopened)
        self.background = []              # greenlets to kill at shutdown
        self.role_hooks = []              # fn() when the node becomes a replica or a master
        self.child_hooks = []             # fn() in a forked background child (RDB, AOF rewrite)

    @property
    def is_replica_node(self):
        return self.__dict__.get("_is_replica_node", False)

    @is_replica_node.setter
    def is_replica_node(self, value):
        changed = bool(value) != self.__dict__.get("_is_replica_node", False)
        self.__dict__["_is_replica_node"] = bool(value)
        if changed:
            for hook in self.role_hooks:
                hook()

    def role_name(self):
        return "replica" if self.replica_read_only or getattr(self, "is_replica_node", False) else "master"

    def _write_gate(name):
        private = "_" + name

        def get(self):
            return getattr(self, private)

        def set(self, value):
            setattr(self, private, value)
            self.write_gated = bool(self._memory is not None or self._write_guard is not None
                                    or self._replica_read_only)
        return property(get, set)

    # Checks dispatch runs for write/denyoom commands only when one is set.
    memory = _write_gate("memory")
    write_guard = _write_gate("write_guard")
    replica_read_only = _write_gate("replica_read_only")

    def set_gate_all(self, on, reason="explicit"):
        """Send every client's commands through dispatch's full checks while
        any reason (cluster, pause, monitors, listeners) is active."""
        if on:
            self.gate_reasons.add(reason)
        else:
            self.gate_reasons.discard(reason)
        self.gate_all = bool(self.gate_reasons)
        for c in self.clients.values():
            c.regate()

    # -- clients -------------------------------------------------------------
    def new_client_id(self):
        cid = self.next_client_id
        self.next_client_id += 1
        return cid

    # -- propagation ---------------------------------------------------------
    def set_propagating(self, fn, active, hub_safe=True):
        """Register (active) or withdraw a propagator; idempotent.
        ``hub_safe``: it may run for a command the event loop runs itself."""
        for props in (self._propagators,) if hub_safe else (self._propagators,
                                                            self._hub_unsafe_props):
            if active:
                if fn not in props:
                    props.append(fn)
            else:
                while fn in props:
                    props.remove(fn)
        self.hub_unsafe_propagation = bool(self._hub_unsafe_props)

    def propagate(self, dbid, argvs):
        """Send the deterministic form of a write to the AOF and replicas."""
        for fn in self.propagators:
            fn(dbid, argvs)

    # -- monitor / slowlog ----------------------------------------------------
    def feed_monitors(self, client, argv, spec, force=False):
        """MONITOR's line for a command that ran (not for SKIP_MONITOR or
        admin commands, unless ``force``: EVAL and FCALL are shown before
        the commands they run, as Redis's evalCommand feeds them)."""
        from .commands.registry import SKIP_MONITOR, ADMIN
        if spec.flags & (SKIP_MONITOR | ADMIN) and not force:
            return
        line = monitor_line(client, argv, spec)
        for m in list(self.monitors):
            m.send_push_line(line)

    def slowlog_add(self, client, argv, elapsed_us, spec=None):
        args = []
        for a in argv[:32]:
            args.append(a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128))
        if len(argv) > 32:
            args[-1] = b"... (%d more arguments)" % (len(argv) - 31)
        self.slowlog.appendleft((self.slowlog_next_id, int(time.time()), elapsed_us, args,
                                 client.addr_text.encode(), (client.name or b"")))
        self.slowlog_next_id += 1

    # -- background tasks -----------------------------------------------------
    def spawn_background(self, fn, *args):
        g = gevent.spawn(fn, *args)
        self.background.append(g)
        return g

    # Active expiry runs in slices this long, other clients served between
    # two slices (paced: pacing.py): a flood of expiring keys never stalls
    # them for more.
    EXPIRE_SLICE_S = 0.001

    MAX_CLIENTS_PER_CLOCK_TICK = 200
    MAX_HZ = 500

    def effective_hz(self):
        """hz, raised with dynamic-hz while many clients are connected (as
        Redis's serverCron: doubled while there are more than 200 clients
        per cycle, up to 500)."""
        conf = self.config
        hz = conf["hz"]
        if conf["dynamicHz"]:
            n = len(self.clients)
            while n / hz > self.MAX_CLIENTS_PER_CLOCK_TICK:
                hz *= 2
                if hz > self.MAX_HZ:
                    return self.MAX_HZ
        return hz

    def expire_loop(self):
        """Active expiry: hz times a second, a time-bounded pass over the
        deadline heaps (25% of one cycle at most, like Redis), in slices of
        EXPIRE_SLICE_S with a yield between two (Redis spends the 25% in
        one go: 25 ms at hz 10)."""
        perf = time.perf_counter
        while True:
            hz = self.effective_hz()
            self.mono_now = time.monotonic()
            budget = 0.25 / hz
            pacer = Pacer()
            if self.cron_paused:
                gevent.sleep(1.0 / hz)
                continue
            try:
                for _ in range(max(1, int(budget / self.EXPIRE_SLICE_S))):
                    started = perf()
                    self.keyspace.expire_cycle(budget_s=min(self.EXPIRE_SLICE_S, budget))
                    spent = perf() - started
                    if spent >= 0.001:      # (LATENCY's expire-cycle: what one slice held the loop)
                        latency_sample(self, "expire-cycle", int(spent * 1000))
                    budget -= spent
                    if spent < self.EXPIRE_SLICE_S or budget <= 0:
                        break           # nothing more due, or the cycle's time is used
                    pacer.pause()
            except Exception:
                log.exception("active expire cycle failed")
            gevent.sleep(1.0 / hz)

    def clients_cron(self):
        """Once a second, as Redis's clientsCron visits every client: close
        clients idle past ``timeout`` (never replicas, masters, blocked or
        subscribed clients, as Redis) and clients whose queued output has
        stayed over their class's soft limit too long, or is over its hard
        limit, though nothing more is being queued for them (the check when
        output is queued only sees clients that still get traffic)."""
        while True:
            gevent.sleep(1.0)
            if self.cron_paused:
                continue
            timeout = self.config["timeout"]
            now = self.mono_now           # the clock last_interaction is read from
            for c in list(self.clients.values()):
                if c.out_bytes and not c.closing and c.check_output_limits():
                    continue
                if (timeout and now - c.last_interaction > timeout and not c.is_replica
                        and not c.is_master and not c.subscribed and not c.blocked):
                    log.info("Closing idle client %s", c.addr_text)
                    c.close()


def _quote_monitor(arg):
    # Redis's sdscatrepr: printable bytes as is, \n \r \t \a \b and \" \\
    # escaped, others as \xHH.
    out = ['"']
    for b in arg:
        ch = chr(b)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % b)
    out.append('"')
    return "".join(out)


def monitor_line(client, argv, spec):
    """One MONITOR line: ``+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"``;
    secrets redacted as Redis does."""
    now = time.time()
    if client.in_script:
        origin = "%d lua" % client.db.id
    elif client.unix:       # (Redis: "[0 unix:/path/to/socket]")
        origin = "%d unix:%s" % (client.db.id, client.addr_text[:-2])
    else:
        origin = "%d %s" % (client.db.id, client.addr_text)
    name = spec.parent.name if spec.parent else spec.name
    shown = argv
    if name in _REDACTS:
        shown = list(argv)
        for i in _REDACTS[name](argv):
            shown[i] = b"(redacted)"
    return "+%.6f [%s] %s" % (now, origin, " ".join(_quote_monitor(a) for a in shown))


# Which arguments Redis redacts (redactClientCommandArgument) as the command
# parses them: a command that fails before reaching a secret shows it.
# (ACL SETUSER, CONFIG SET ... are admin commands, never shown.)
def _redact_auth(argv):
    if len(argv) > 3:
        return ()               # syntax error first
    return range(1, len(argv))


def _redact_hello(argv):
    if len(argv) >= 2:
        try:
            if int(argv[1]) not in (2, 3):
                return ()
        except ValueError:
            return ()
    out = []
    j = 2
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"auth" and more >= 2:
            out += [j + 1, j + 2]
            j += 3
        elif opt == b"setname" and more >= 1:
            j += 2
        else:
            break
    return out


def _redact_migrate(argv):
    out = []
    j = 6
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt in (b"copy", b"replace"):
            j += 1
        elif opt == b"auth" and more >= 1:
            out.append(j + 1)
            j += 2
        elif opt == b"auth2" and more >= 2:
            out += [j + 1, j + 2]
            j += 3
        else:
            break
    return out


_REDACTS = {"auth": _redact_auth, "hello": _redact_hello, "migrate": _redact_migrate}


__all__ = ["Node", "Stats", "encode_command", "monitor_line"]
