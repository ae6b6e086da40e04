"""Monitoring and operations commands: SLOWLOG, LATENCY, MEMORY, CLIENT
PAUSE / UNPAUSE, with Redis 7.0's replies and error texts.

The figures come from ``node.metrics`` (observability/metrics.py); the
settings declared here are applied to the node by ``setup(node)``, which the
observability subsystem calls from its ``attach``.
"""
import gc
import itertools
import logging
import sys
import time
from collections import deque

import gevent
from gevent.event import Event

from .. import config as cfg
from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, Verbatim, status_lines
from ..storage.compact import PACKED_TYPES
from ..storage.zset import ZSet
from .registry import (command, container, ADMIN, NOSCRIPT, LOADING, STALE, READONLY,
                       WRITE, MAY_REPLICATE, SKIP_SLOWLOG, FAST, call_flags)
from .util import parse_int

log = logging.getLogger("nodensync")

G = "server"
_INT64_MAX = 2 ** 63 - 1

cfg.declare("slowlogLogSlowerThan", "int", 10000,
            "Log commands slower than this many microseconds in the slow log (0 logs "
            "every command, -1 disables the slow log).",
            redis="slowlog-log-slower-than", mutable=True, minimum=-1, maximum=_INT64_MAX,
            group="monitoring")
cfg.declare("slowlogMaxLen", "int", 128, "Entries kept in the slow log (oldest dropped).",
            redis="slowlog-max-len", mutable=True, minimum=0, maximum=_INT64_MAX,
            group="monitoring")
cfg.declare("latencyMonitorThreshold", "int", 0,
            "Record events (commands, event-loop stalls, fork, fsync) lasting at least this "
            "many milliseconds for LATENCY (0 = latency monitor off).",
            redis="latency-monitor-threshold", mutable=True, minimum=0, maximum=_INT64_MAX,
            group="monitoring")


def _typed_argv(container_name):
    """The argv of the command being run, as the client sent it (handlers only
    get the arguments after the subcommand): looked up in the caller frames
    (dispatch.call / the client loop), on error paths only."""
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            break
        argv = frame.f_locals.get("argv")
        if isinstance(argv, list) and len(argv) > 1 and isinstance(argv[0], bytes) \
                and argv[0].lower() == container_name.encode():
            return argv
        frame = frame.f_back
    return None


def _subcommand_error(sub, container_name):
    """Redis's addReplySubcommandSyntaxError: the subcommand as the client
    typed it."""
    argv = _typed_argv(container_name)
    if argv is not None:
        sub = argv[1]
    return errors.subcommand_syntax(sub, container_name)


def _help(lines):
    return status_lines(lines)


# -- settings ---------------------------------------------------------------------
def setup(node):
    """Apply and follow the slow log / latency monitor settings.

    Both are fed from the one threshold test the command path already makes
    (``elapsed_us >= node.slowlog_threshold_us >= 0``): that threshold is the
    smaller of the two settings, and ``slowlog_add`` (installed on the node)
    sorts out which of them the command reached."""
    conf = node.config
    hooks = getattr(node, "resetstat_hooks", None)
    if hooks is not None:
        # CONFIG RESETSTAT zeroes INFO's lazyfreed_objects (lazyfreeResetStats).
        hooks.append(lambda: setattr(node.keyspace, "lazyfreed_objects", 0))

    def apply_thresholds(_=None):
        slow = conf["slowlogLogSlowerThan"]
        lat_ms = conf["latencyMonitorThreshold"]
        m = getattr(node, "metrics", None)
        if m is not None:
            m.latency_threshold_ms = lat_ms
        candidates = [t for t in (slow if slow >= 0 else None,
                                  lat_ms * 1000 if lat_ms > 0 else None) if t is not None]
        node.slowlog_threshold_us = min(candidates) if candidates else -1

    def set_maxlen(v):
        node.slowlog = deque(itertools.islice(node.slowlog, v), maxlen=v)

    apply_thresholds()
    set_maxlen(conf["slowlogMaxLen"])
    conf.on_change("slowlogLogSlowerThan", apply_thresholds)
    conf.on_change("latencyMonitorThreshold", apply_thresholds)
    conf.on_change("slowlogMaxLen", set_maxlen)
    node.slowlog_add = lambda client, argv, us, spec: slowlog_add(node, client, argv, us, spec)
    node.client_pause = None
    node.pause_state = PauseState(node)


# -- SLOWLOG ----------------------------------------------------------------------
def redact(argv):
    """A copy of argv with secrets replaced by "(redacted)" (Redis's
    redactClientCommandArgument cases)."""
    if not argv:
        return argv
    name = argv[0].lower()
    red = b"(redacted)"
    if name == b"auth":
        return argv[:1] + [red] * (len(argv) - 1)
    out = list(argv)
    if name == b"hello":
        for i in range(2, len(out)):
            if out[i].lower() == b"auth" and i + 2 < len(out):
                out[i + 1] = out[i + 2] = red
    elif name == b"acl" and len(out) > 2 and out[1].lower() == b"setuser":
        for i in range(2, len(out)):        # (the user name too, as Redis 7.0)
            out[i] = red
    elif name == b"config" and len(out) > 1 and out[1].lower() == b"set":
        for i in range(2, len(out) - 1, 2):
            if out[i].lower() in (b"masterauth", b"requirepass", b"masteruser",
                                  b"tls-key-file-pass", b"tls-client-key-file-pass"):
                out[i + 1] = red
    elif name == b"migrate":
        i = 6
        while i < len(out):
            opt = out[i].lower()
            if opt == b"auth" and i + 1 < len(out):
                out[i + 1] = red
                i += 2
            elif opt == b"auth2" and i + 2 < len(out):
                out[i + 1] = out[i + 2] = red
                i += 3
            elif opt == b"keys":
                break
            else:
                i += 1
    elif name in (b"masterauth",):
        out[1:] = [red] * (len(out) - 1)
    return out


def slowlog_add(node, client, argv, elapsed_us, spec):
    """Called by the command path for a command (``spec``) that reached
    ``node.slowlog_threshold_us``: a latency monitor sample and/or a slow log
    entry (Redis's truncation, SKIP_SLOWLOG commands left out -- EXEC: the
    commands it ran are logged instead --, secrets redacted)."""
    m = getattr(node, "metrics", None)
    if m is not None and m.latency_threshold_ms and elapsed_us >= m.latency_threshold_ms * 1000:
        m.add_latency_sample("fast-command" if spec is not None and spec.flags & FAST
                             else "command", elapsed_us // 1000)
    slower_than = node.config["slowlogLogSlowerThan"]
    if slower_than < 0 or elapsed_us < slower_than:
        return
    if spec is not None and spec.flags & SKIP_SLOWLOG:
        return
    if node.slowlog.maxlen == 0:
        return
    argv = redact(argv)
    args = []
    for a in argv[:32]:
        args.append(a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128))
    if len(argv) > 32:
        args[-1] = b"... (%d more arguments)" % (len(argv) - 31)
    node.slowlog.appendleft((node.slowlog_next_id, int(time.time()), elapsed_us, args,
                             client.addr_text.encode(), client.name or b""))
    node.slowlog_next_id += 1


container("slowlog", group=G, since="2.2.12", summary="A container for slow log commands")


@command("slowlog|get", arity=-2, flags=ADMIN | LOADING | STALE, group=G, since="2.2.12",
         syntax="[count]", complexity="O(N) where N is the number of entries returned")
def slowlog_get(ctx, *args):
    """Get the slow log's entries"""
    if len(args) > 1:
        raise _subcommand_error("get", "slowlog")
    count = 10
    if args:
        try:
            count = int(args[0])
        except ValueError:
            count = None
        if count is None or not -1 <= count <= _INT64_MAX or b"%d" % count != args[0]:
            raise CommandError("ERR count should be greater than or equal to -1")
        if count == -1 or count > len(ctx.node.slowlog):
            count = len(ctx.node.slowlog)
    out = []
    for entry in itertools.islice(ctx.node.slowlog, count):
        eid, ts, us, argv, addr, name = entry
        out.append([eid, ts, us, list(argv), addr, name])
    return out


@command("slowlog|len", arity=2, flags=ADMIN | LOADING | STALE, group=G, since="2.2.12",
         syntax="", complexity="O(1)")
def slowlog_len(ctx):
    """Get the slow log's length"""
    return len(ctx.node.slowlog)


@command("slowlog|reset", arity=2, flags=ADMIN | LOADING | STALE, group=G, since="2.2.12",
         syntax="", complexity="O(N) where N is the number of entries in the slowlog")
def slowlog_reset(ctx):
    """Clear all entries from the slow log"""
    ctx.node.slowlog.clear()
    return OK


@command("slowlog|help", arity=2, flags=LOADING | STALE, group=G, since="6.2.0", syntax="",
         complexity="O(1)")
def slowlog_help(ctx):
    """Show helpful text about the different subcommands"""
    return _help([
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ])


# -- LATENCY -----------------------------------------------------------------------
container("latency", group=G, since="2.8.13", summary="A container for latency diagnostics commands")

_LAT_FLAGS = ADMIN | NOSCRIPT | LOADING | STALE


def _metrics(ctx):
    m = getattr(ctx.node, "metrics", None)
    if m is None:
        raise CommandError("ERR latency monitoring is not available")
    return m


@command("latency|latest", summary='Return the latest latency samples for all events.', arity=2, flags=_LAT_FLAGS, group=G, since="2.8.13", syntax="",
         complexity="O(1)")
def latency_latest(ctx):
    """Return the latest latency samples for all events."""
    out = []
    for name, (max_ms, samples) in _metrics(ctx).latency_events.items():
        if samples:
            ts, ms = samples[-1]
            out.append([name.encode(), ts, ms, max_ms])
    return out


@command("latency|history", summary='Return timestamp-latency samples for the event.', arity=3, flags=_LAT_FLAGS, group=G, since="2.8.13",
         syntax="event", complexity="O(1)")
def latency_history(ctx, event):
    """Return timestamp-latency samples for the event."""
    entry = _metrics(ctx).latency_events.get(event.decode("utf-8", "replace"))
    if entry is None:
        return []
    return [[ts, ms] for ts, ms in entry[1]]


@command("latency|reset", summary='Reset latency data for one or more events.', arity=-2, flags=_LAT_FLAGS, group=G, since="2.8.13",
         syntax="[event [event ...]]", complexity="O(1)")
def latency_reset(ctx, *events):
    """Reset latency data for one or more events."""
    table = _metrics(ctx).latency_events
    if not events:
        n = len(table)
        table.clear()
        return n
    n = 0
    for e in events:
        if table.pop(e.decode("utf-8", "replace"), None) is not None:
            n += 1
    return n


def _graph(name, entry):
    """An ASCII sparkline of an event's samples (newest on the right)."""
    max_all, samples = entry
    values = [ms for _, ms in samples]
    hi, lo = max(values), min(values)
    lines = ["%s - high %d ms, low %d ms (all time high %d ms)" % (name, hi, lo, max_all),
             "-" * 80]
    cols = values[-80:]
    rows = 4
    span = max(1, hi - lo)
    heights = [1 + (v - lo) * (rows * 2 - 1) // span for v in cols]
    for r in range(rows, 0, -1):
        line = ""
        for h in heights:
            if h >= r * 2:
                line += "|"
            elif h == r * 2 - 1:
                line += "_"
            else:
                line += " "
        lines.append(line.rstrip() or "")
    now = int(time.time())
    ages = [now - ts for ts, _ in list(samples)[-80:]]
    labels = []
    for a in ages:
        if a < 60:
            labels.append(("%ds" % a))
        elif a < 3600:
            labels.append(("%dm" % (a // 60)))
        else:
            labels.append(("%dh" % (a // 3600)))
    width = max(len(x) for x in labels)
    lines.append("")
    for i in range(width):
        lines.append("".join(x[i] if i < len(x) else " " for x in labels).rstrip())
    return "\n".join(lines) + "\n"


@command("latency|graph", summary='Return a latency graph for the event.', arity=3, flags=_LAT_FLAGS, group=G, since="2.8.13", syntax="event",
         complexity="O(1)")
def latency_graph(ctx, event):
    """Return a latency graph for the event."""
    name = event.decode("utf-8", "replace")
    entry = _metrics(ctx).latency_events.get(name)
    if entry is None or not entry[1]:
        raise CommandError("ERR No samples available for event '%s'" % name)
    return Verbatim(_graph(name, entry))


_ADVICE = {
    "command": "- Check your slow log (SLOWLOG GET) for the commands that took longer than the "
               "threshold: commands of O(N) complexity on big values (KEYS, SMEMBERS, LRANGE "
               "with big ranges, SORT ...) block every other client.",
    "fast-command": "- Fast commands were slow: the process was probably not scheduled (CPU "
                    "starvation, swapping or a noisy neighbour). Check the system load and "
                    "that the host is not swapping.",
    "event-loop": "- The event loop was stalled: a command, a big lazy free, a snapshot or the "
                  "host (CPU starvation, swapping) kept the process from serving clients. "
                  "Correlate with SLOWLOG GET and with the host's load.",
    "fork": "- Forking for snapshots / AOF rewrites is slow on this host: big data sets with "
            "many pages make fork slow; consider a smaller data set per instance or rewriting "
            "less often.",
}


@command("latency|doctor", summary='Return a human readable latency analysis report.', arity=2, flags=_LAT_FLAGS, group=G, since="2.8.13", syntax="",
         complexity="O(1)")
def latency_doctor(ctx):
    """Return a human readable latency analysis report."""
    m = _metrics(ctx)
    events = [(n, e) for n, e in m.latency_events.items() if e[1]]
    if not events:
        if not m.latency_threshold_ms:
            return Verbatim(
                "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
                "instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" "
                "in order to enable it. If we weren't in a deep space mission I'd suggest to "
                "take a look at https://redis.io/topics/latency-monitor.\n")
        return Verbatim("Dave, no latency spike was observed during the lifetime of this Redis "
                        "instance, not in the slightest bit. I honestly think you ought to "
                        "sleep tonight.\n")
    lines = ["Dave, I have observed latency spikes in this Redis instance. You don't mind "
             "talking about it, do you Dave?", ""]
    for i, (name, (max_ms, samples)) in enumerate(events, 1):
        values = [ms for _, ms in samples]
        avg = sum(values) / len(values)
        mad = sum(abs(v - avg) for v in values) / len(values)
        period = ((samples[-1][0] - samples[0][0]) / (len(samples) - 1)) if len(samples) > 1 else 0
        lines.append("%d. %s: %d latency spikes (average %dms, mean deviation %dms, period "
                     "%.2f sec). Worst all time event %dms."
                     % (i, name, len(values), avg, mad, period, max_ms))
    lines += ["", "I have a few advices for you:", ""]
    advised = False
    for name, _ in events:
        text = _ADVICE.get(name)
        if text:
            lines.append(text)
            advised = True
    if not advised:
        lines.append("- Check SLOWLOG GET and the host's load around the times shown by "
                     "LATENCY HISTORY <event>.")
    return Verbatim("\n".join(lines) + "\n")


def _histogram_reply(spec, counts, total):
    from ..observability.metrics import cumulative_pow2
    return {b"calls": total,
            b"histogram_usec": {usec: cum for usec, cum in cumulative_pow2(counts)}}


@command("latency|histogram", summary='Return the cumulative distribution of latencies of a subset of commands or all.', arity=-2, flags=_LAT_FLAGS, group=G, since="7.0.0",
         syntax="[command [command ...]]",
         complexity="O(N) where N is the number of commands with latency information being "
                    "retrieved.")
def latency_histogram(ctx, *names):
    """Return the cumulative distribution of latencies of a subset of commands or all."""
    from . import registry
    m = _metrics(ctx)
    data = {spec: (counts, total) for spec, counts, total in m.command_histograms()}
    out = {}
    if not names:
        for spec, (counts, total) in data.items():
            out[spec.fullname.encode()] = _histogram_reply(spec, counts, total)
        return out
    for n in names:
        text = n.decode("utf-8", "replace").lower()
        if "|" in text:
            parent, sub = text.split("|", 1)
            p = registry.COMMANDS.get(parent)
            spec = p.subcommands.get(sub) if p is not None and p.subcommands else None
        else:
            spec = registry.COMMANDS.get(text)
        if spec is None:
            continue
        for s in [spec] + list((spec.subcommands or {}).values()):
            if s in data:
                out[s.fullname.encode()] = _histogram_reply(s, *data[s])
    return out


@command("latency|help", summary='Show helpful text about the different subcommands.', arity=2, flags=LOADING | STALE, group=G, since="2.8.13", syntax="",
         complexity="O(1)")
def latency_help(ctx):
    """Show helpful text about the different subcommands."""
    return _help([
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for "
        "the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ])


# -- MEMORY ------------------------------------------------------------------------------
container("memory", group=G, since="4.0.0", summary="A container for memory diagnostics commands")

_getsizeof = sys.getsizeof
# A dict entry of the keyspace (hash, key and value pointers) plus its share
# of the index table.
DICT_ENTRY = 24 + 8


def _sample_size(items, total, samples):
    """Estimated bytes of ``total`` elements from the first ``samples``."""
    n = 0
    size = 0
    for item in itertools.islice(items, samples):
        size += item
        n += 1
    if not n:
        return 0
    return int(size / n * total)


def value_usage(value, samples=5):
    """Estimated bytes of one value (Redis's objectComputeSize analogue)."""
    t = type(value)
    if t is bytes or t is int or t in PACKED_TYPES:
        return _getsizeof(value)
    if t is dict:
        return _getsizeof(value) + _sample_size(
            (_getsizeof(k) + _getsizeof(v) for k, v in value.items()), len(value), samples)
    if t is deque:
        return _getsizeof(value) + _sample_size((_getsizeof(v) for v in value), len(value),
                                                samples)
    if t is set:
        return _getsizeof(value) + _sample_size((_getsizeof(v) for v in value), len(value),
                                                samples)
    if t is ZSet:
        n = len(value)
        # the member -> key dict, the sorted index of those keys (8-byte
        # score prefix + member) in sublists of about a thousand
        base = _getsizeof(value) + _getsizeof(value.members) + 64 * (n // 1000 + 1)
        per = _sample_size((_getsizeof(m) + _getsizeof(k) + 8
                            for m, k in value.members.items()), n, samples)
        return base + per
    size_fn = getattr(value, "memory_usage", None)
    if size_fn is not None:
        try:
            return int(size_fn(samples))
        except Exception:
            log.exception("memory_usage failed")
    return _getsizeof(value)


def key_usage(db, key, value, samples=5):
    size = DICT_ENTRY + _getsizeof(key) + value_usage(value, samples)
    if key in db.expires:
        size += DICT_ENTRY + 32
    return size


@command("memory|usage", arity=-3, flags=READONLY, keys=(2, 2, 1), group=G, since="4.0.0",
         syntax="key [SAMPLES count]", complexity="O(N) where N is the number of samples.")
def memory_usage(ctx, key, *args):
    """Estimate the memory usage of a key"""
    samples = 5
    i = 0
    while i < len(args):
        if args[i].lower() == b"samples" and i + 1 < len(args):
            n = parse_int(args[i + 1])
            if n < 0:
                raise CommandError(errors.SYNTAX)
            samples = n if n else sys.maxsize
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    value = ctx.db.get(key)
    if value is None:
        return None
    return key_usage(ctx.db, key, value, samples)


@command("memory|stats", arity=2, flags=0, group=G, since="4.0.0", syntax="",
         complexity="O(1)")
def memory_stats(ctx):
    """Show memory usage details"""
    from ..observability.info import memory_figures
    node = ctx.node
    f = memory_figures(node)
    used, rss, peak, startup = f["used"], f["rss"], f["peak"], f["startup"]
    keys = sum(len(db.data) for db in node.keyspace.dbs)
    out = {
        b"peak.allocated": peak,
        b"total.allocated": used,
        b"startup.allocated": startup,
        b"replication.backlog": f["backlog"],
        b"clients.slaves": f["mem_replicas"],
        b"clients.normal": f["mem_normal"],
        b"cluster.links": 0,
        b"aof.buffer": f["aof_buffer"],
        b"lua.caches": 0,
        b"functions.caches": 0,
    }
    overhead_tables = 0
    for db in node.keyspace.dbs:
        if not db.data:
            continue
        main = _getsizeof(db.data)
        exp = _getsizeof(db.expires)
        overhead_tables += main + exp
        out[b"db.%d" % db.id] = {b"overhead.hashtable.main": main,
                                 b"overhead.hashtable.expires": exp,
                                 b"overhead.hashtable.slot-to-keys": 0}
    overhead = f["overhead"] + overhead_tables
    dataset = max(0, used - overhead)
    out.update({
        b"overhead.total": overhead,
        b"keys.count": keys,
        b"keys.bytes-per-key": (used - startup) // keys if keys else 0,
        b"dataset.bytes": dataset,
        b"dataset.percentage": 100.0 * dataset / max(1, used - startup),
        b"peak.percentage": 100.0 * used / max(1, peak),
        b"allocator.allocated": f["allocated"],
        b"allocator.active": f["active"],
        b"allocator.resident": f["resident"],
        b"allocator-fragmentation.ratio": f["active"] / max(1, f["allocated"]),
        b"allocator-fragmentation.bytes": f["active"] - f["allocated"],
        b"allocator-rss.ratio": f["resident"] / max(1, f["active"]),
        b"allocator-rss.bytes": f["resident"] - f["active"],
        b"rss-overhead.ratio": rss / max(1, f["resident"]),
        b"rss-overhead.bytes": rss - f["resident"],
        b"fragmentation": rss / max(1, used),
        b"fragmentation.bytes": rss - used,
    })
    return out


@command("memory|doctor", arity=2, flags=0, group=G, since="4.0.0", syntax="",
         complexity="O(1)")
def memory_doctor(ctx):
    """Outputs memory problems report"""
    from ..observability.info import memory_figures
    node = ctx.node
    keys = sum(len(db.data) for db in node.keyspace.dbs)
    if keys == 0:
        return Verbatim(
            "Hi Sam, this instance is empty or is using very little memory, my issues detector "
            "can't be used in these conditions. Please, leave for your mission on Earth and "
            "fill it with some data. The new Sam and I will be back to our programming as soon "
            "as I finished rebooting.\n")
    f = memory_figures(node)
    issues = []
    if f["peak"] > f["used"] * 1.5:
        issues.append(
            " * Peak memory: In the past this instance used more than 150% the memory that is "
            "currently using. The allocator is normally not able to release memory after a "
            "peak, so you can expect to see a big fragmentation ratio, however this is "
            "actually harmless and is only due to the memory peak, and if the Redis instance "
            "Resident Set Size (RSS) is currently bigger than expected, the memory will be "
            "used as soon as you fill the Redis instance with more data. If the memory peak "
            "was only occasional and you want to try to reclaim memory, please try the MEMORY "
            "PURGE command, otherwise the only other option is to shutdown and restart the "
            "instance.")
    if f["source"] == "rss" and f["used"] and f["rss"] / f["used"] > 1.4 \
            and f["rss"] - f["used"] > 10 * 1024 * 1024:
        issues.append(
            " * High total RSS: This instance has a memory fragmentation and RSS overhead "
            "greater than 1.4 (this means that the Resident Set Size of the Redis process is "
            "much larger than the sum of the logical allocations Redis performed). This "
            "problem is usually due either to a large peak memory (check if there is a peak "
            "memory entry above in the report) or may result from a workload that causes the "
            "allocator to fragment memory a lot. You may try MEMORY PURGE.")
    nclients = max(1, sum(1 for c in node.clients.values() if not c.is_replica))
    if f["mem_normal"] / nclients > 1024 * 200:
        issues.append(
            " * Big client buffers: The clients output buffers are in general big (more than "
            "200 KiB per client on average). This may result from different causes, like "
            "Pub/Sub clients subscribed to channels but not receiving data fast enough, so "
            "that data piles on the Redis instance output buffer, or clients sending commands "
            "with large replies or very large sequences of commands in the same pipeline. "
            "Please use the CLIENT LIST command in order to investigate the issue if it causes "
            "problems in your instance, or to understand better why certain clients are using "
            "a big amount of memory.")
    if f["mem_replicas"] > 1024 * 1024 * 10:
        issues.append(
            " * Big replica buffers: The replica output buffers in this instance are greater "
            "than 10MB for each replica (on average). This likely means that there is some "
            "replica instance that is struggling receiving data, either because it is too "
            "slow or because of networking issues. As a result, data piles on the master "
            "output buffers. Please try to identify what replica is not receiving data "
            "correctly and why. You can use the INFO output in order to check the replicas "
            "delays and the CLIENT LIST command to check the output buffers of each replica.")
    if not issues:
        return Verbatim("Hi Sam, I can't find any memory issue in your instance. I can only "
                        "account for what occurs on this base.\n")
    return Verbatim("Sam, I detected a few issues in this Redis instance memory implants:\n\n"
                    + "\n\n".join(issues)
                    + "\n\nI'm here to keep you safe, Sam. I want to help you.\n")


@command("memory|malloc-stats", arity=2, flags=0, group=G, since="4.0.0", syntax="",
         complexity="Depends on how much memory is allocated, could be slow")
def memory_malloc_stats(ctx):
    """Show allocator internal stats"""
    return b"Stats not supported for the current allocator"


@command("memory|purge", arity=2, flags=0, group=G, since="4.0.0", syntax="",
         complexity="Depends on how much memory is allocated, could be slow")
def memory_purge(ctx):
    """Ask the allocator to release memory"""
    gc.collect()
    try:
        import ctypes
        import ctypes.util
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return OK


@command("memory|help", arity=2, flags=LOADING | STALE, group=G, since="4.0.0", syntax="",
         complexity="O(1)")
def memory_help(ctx):
    """Show helpful text about the different subcommands"""
    return _help([
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ])


# -- CLIENT PAUSE / UNPAUSE ----------------------------------------------------------
PAUSE_WRITE = 1
PAUSE_ALL = 2


class PauseState:
    """CLIENT PAUSE: while active, ``node.client_pause`` is ``self.check``,
    which dispatch calls before running (or queueing) a command; it returns
    at once for commands the pause does not cover and otherwise waits until
    the pause ends (timeout or CLIENT UNPAUSE).  Replicas are never paused."""

    def __init__(self, node):
        self.node = node
        self.mode = 0
        self.end = 0.0              # monotonic
        self.event = Event()
        self.event.set()
        self.timer = None
        self.holds = set()          # who holds writes paused: "shutdown", "failover"
        self.client_end = 0.0       # CLIENT PAUSE's own end, kept under a hold
        self.client_mode = 0

    @property
    def held(self):
        return bool(self.holds)

    def hold(self, on, purpose="shutdown"):
        """Redis's PAUSE_DURING_SHUTDOWN / PAUSE_DURING_FAILOVER: writes
        paused until released by the same purpose (not by CLIENT UNPAUSE);
        a CLIENT PAUSE given meanwhile goes on after."""
        if on:
            self.holds.add(purpose)
        else:
            self.holds.discard(purpose)
        self._apply()

    def pause(self, ms, mode):
        """CLIENT PAUSE: ``mode`` for ``ms`` (merged with one in progress)."""
        now = time.monotonic()
        end = now + ms / 1000.0
        if self.client_mode and self.client_end > now:
            mode = max(mode, self.client_mode)
            end = max(end, self.client_end)
        self.client_mode, self.client_end = mode, end
        self._apply()

    def unpause(self):
        """The end of CLIENT PAUSE (its timeout or CLIENT UNPAUSE); a
        shutdown's hold goes on."""
        self.client_mode = 0
        self.client_end = 0.0
        self._apply()

    def _apply(self):
        now = time.monotonic()
        client = self.client_mode if self.client_end > now else 0
        mode = max(client, PAUSE_WRITE if self.held else 0)
        timer, self.timer = self.timer, None
        if timer is not None and timer is not gevent.getcurrent():
            timer.kill(block=False)
        if client:
            self.timer = gevent.spawn_later(max(0.0, self.client_end - now), self.unpause)
        old = self.mode
        self.mode = mode
        self.end = float("inf") if self.held else self.client_end
        if mode:
            if old and mode < old:
                self.event.set()            # (ALL -> WRITE: the reads go on)
            if self.event.is_set():
                self.event = Event()
            self.node.client_pause = self.check
            self.node.keyspace.expire_paused = True     # (Redis pauses expiry too)
            # every client through dispatch's checks (the inline path skips them)
            self.node.set_gate_all(True, "client-pause")
            return
        self.node.client_pause = None
        self.node.keyspace.expire_paused = False
        if "client-pause" in getattr(self.node, "gate_reasons", ()):
            self.node.set_gate_all(False, "client-pause")
        self.event.set()

    def covers(self, client, spec):
        if client.is_replica:
            return False
        if self.mode == PAUSE_ALL:
            return True
        if call_flags(self.node, spec, client.exec_argv) & (WRITE | MAY_REPLICATE):
            return True
        if spec.name == "exec" and client.multi:
            return any(call_flags(self.node, s, argv) & (WRITE | MAY_REPLICATE)
                       for s, argv, _ in client.multi)
        return False

    def check(self, client, spec):
        """Wait while the pause covers this command; the client counts as
        blocked meanwhile (INFO blocked_clients, flag b, cmd= this command),
        as Redis's postponed clients do.  True when it waited: the command
        is then checked again from the start (Redis re-processes a postponed
        command: a master that became a replica meanwhile, after a FAILOVER,
        answers -READONLY)."""
        if not (self.mode and self.covers(client, spec)):
            return False
        client.cmd = spec
        client.paused = True
        try:
            while self.mode and self.covers(client, spec):
                remaining = self.end - time.monotonic()
                if remaining <= 0:
                    self.unpause()
                    break
                self.event.wait(None if remaining == float("inf") else remaining)
        finally:
            client.paused = False
        return True


@command("client|pause", arity=-3, flags=ADMIN | NOSCRIPT | LOADING | STALE, group="connection",
         since="2.9.50", syntax="timeout [WRITE | ALL]", complexity="O(1)")
def client_pause(ctx, timeout, *args):
    """Stop processing commands from clients for some time"""
    if len(args) > 1:
        raise _subcommand_error("pause", "client")
    mode = PAUSE_ALL
    if args:
        m = args[0].lower()
        if m == b"write":
            mode = PAUSE_WRITE
        elif m != b"all":
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    ms = parse_int(timeout, CommandError("ERR timeout is not an integer or out of range"))
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    state = getattr(ctx.node, "pause_state", None)
    if state is None:
        state = ctx.node.pause_state = PauseState(ctx.node)
    state.pause(ms, mode)
    return OK


@command("client|unpause", arity=2, flags=ADMIN | NOSCRIPT | LOADING | STALE, group="connection",
         since="6.2.0", syntax="", complexity="O(N) Where N is the number of paused clients")
def client_unpause(ctx):
    """Resume processing of clients that were paused"""
    state = getattr(ctx.node, "pause_state", None)
    if state is not None:
        state.unpause()
    return OK


__all__ = ["setup", "redact", "slowlog_add", "value_usage", "key_usage", "PauseState"]
