"""INFO sections.  Each section is a function node -> list of (field, value);
subsystems register theirs with ``section(name)`` (a later registration of
the same name replaces the earlier one, so the persistence, replication and
cluster subsystems own their sections).  Field names, section titles, order
and grouping (default / all / everything) follow Redis 7.0."""
import os
import platform
import resource
import sys
import time

import psutil

from ..scripting import memory as scripting_memory
from ..security.memory import overhead as memory_overhead

SECTIONS = {}
# Redis 7.0's genRedisInfoString order.
ORDER = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
         "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]
DEFAULT = frozenset(["server", "clients", "memory", "persistence", "stats", "replication",
                     "cpu", "modules", "errorstats", "cluster", "keyspace"])
# kept for code that imported the old names
DEFAULT_ORDER = [n for n in ORDER if n in DEFAULT]
ALL_EXTRA = ["commandstats", "latencystats"]
TITLES = {"cpu": "CPU"}

_proc = psutil.Process()


def section(name):
    def register(fn):
        SECTIONS[name] = fn
        return fn
    return register


def _wanted(args):
    """The set of section names asked for (lowercase), Redis's rules."""
    if not args:
        args = [b"default"]
    names = set()
    extra = [n for n in SECTIONS if n not in ORDER]
    for a in args:
        w = a.decode("utf-8", "replace").lower() if isinstance(a, bytes) else a.lower()
        if w in ("all", "everything"):
            names.update(ORDER)
            names.update(extra)
        elif w == "default":
            names.update(DEFAULT)
        else:
            names.add(w)
    return names


def render(node, args):
    """INFO text for the requested sections (Redis's selection rules and
    order, whatever order they were asked in)."""
    wanted = _wanted(args)
    extra = [n for n in SECTIONS if n not in ORDER]
    node_sections = getattr(node, "info_sections", None) or {}
    extra += [n for n in node_sections if n not in ORDER and n not in extra]
    parts = []
    for n in ORDER + extra:
        if n not in wanted:
            continue
        if n in node_sections:
            fields = node_sections[n]()
        elif n in SECTIONS:
            fields = SECTIONS[n](node)
        else:
            continue
        if fields is None:
            continue
        lines = ["# %s" % TITLES.get(n, n.capitalize())]
        for k, v in fields:
            lines.append("%s:%s" % (k, v))
        parts.append("\r\n".join(lines))
    return ("\r\n\r\n".join(parts) + "\r\n") if parts else ""


def parse(text):
    """INFO text -> {field: value} (for tools and tests)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def human_bytes(n):
    """Redis's bytesToHuman: 1023B, 1.50K, 12.00M ..."""
    n = float(n)
    if n < 1024:
        return "%dB" % n
    for unit in ("K", "M", "G", "T", "P"):
        n /= 1024
        if n < 1024 or unit == "P":
            return "%.2f%s" % (n, unit)


def _metrics(node):
    return getattr(node, "metrics", None)


def _stat(obj, name, default=0):
    return getattr(obj, name, default)


def supervised(node):
    sd = getattr(node, "systemd", None)
    return "systemd" if sd is not None and sd.enabled else "no"


@section("server")
def _server(node):
    uptime = int(time.monotonic() - node.started_monotonic)
    u = platform.uname()
    hz = node.config["hz"]
    return [
        ("redis_version", node.redis_version),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0"),
        ("redis_mode", "cluster" if node.cluster is not None else "standalone"),
        ("os", "%s %s %s" % (u.system, u.release, u.machine)),
        ("arch_bits", 64 if sys.maxsize > 2 ** 32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", supervised(node)),
        ("run_id", node.run_id),
        ("tcp_port", node.tcp_port),
        ("server_time_usec", int(time.time() * 1e6)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", node.effective_hz() if hasattr(node, "effective_hz") else hz),
        ("configured_hz", hz),
        ("lru_clock", int(time.time()) & ((1 << 24) - 1)),
        ("executable", os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else sys.executable),
        ("config_file", os.path.abspath(node.config.path) if node.config.path else ""),
        ("io_threads_active", 0),
        # (while SHUTDOWN waits for the replicas, as Redis)
        *(ctl.info() if (ctl := getattr(node, "shutdown_ctl", None)) is not None else ()),
        # NodeNsync's own fields (after Redis's, so parsers keep working)
        ("nodensync_version", node.version),
        ("python_version", platform.python_version()),
    ]


@section("clients")
def _clients(node):
    clients = list(node.clients.values())
    normal = [c for c in clients if not c.is_replica]
    return [
        ("connected_clients", len(normal)),
        ("cluster_connections", _stat(node.cluster, "connections", 0) if node.cluster else 0),
        ("maxclients", node.config["maxclients"]),
        ("client_recent_max_input_buffer", max((c.qbuf_len for c in clients), default=0)),
        ("client_recent_max_output_buffer", max((c.out_bytes for c in clients), default=0)),
        # (clients waiting out a CLIENT PAUSE count as blocked, as Redis's
        # postponed clients; only waits with a timeout are in its table)
        ("blocked_clients", sum(1 for c in clients if c.blocked or c.paused)),
        ("tracking_clients", sum(1 for c in clients if getattr(c, "tracking", False))),
        ("clients_in_timeout_table", sum(1 for c in clients if c.blocked and c.blocked_timeout)),
    ]


def memory_figures(node):
    """Figures shared by INFO memory, MEMORY STATS and /metrics."""
    from .metrics import used_memory, malloc_stats, memory_source
    m = _metrics(node)
    used = used_memory(node)
    rss = m.current_rss() if m is not None else _proc.memory_info().rss
    source = memory_source(node)
    # an RSS-based used_memory includes the interpreter; an estimate does not
    mem_state = getattr(node, "memory_state", None)
    if source == "rss":
        startup = m.startup_rss if m is not None else 0
    else:
        startup = getattr(mem_state, "startup", 0)
    peak = max(getattr(node, "used_memory_peak", 0), used)
    node.used_memory_peak = peak
    # (used_memory() just summed these for an estimate: the same figures)
    f = getattr(mem_state, "last_overhead", None) if source != "rss" else None
    if f is None:
        f = memory_overhead(node)
    mem_normal, mem_replicas = f["normal"], f["replica_output"]
    backlog, aof_buf = f["backlog"], f["aof_buffer"]
    overhead = min(used, startup + f["total"])
    dataset = max(0, used - overhead)
    alloc = malloc_stats()
    allocated, active, resident = alloc if alloc else (used, used, rss)
    return {
        "source": source,
        "used": used, "rss": rss, "peak": peak, "startup": startup, "overhead": overhead,
        "dataset": dataset, "mem_normal": mem_normal, "mem_replicas": mem_replicas,
        "backlog": backlog, "aof_buffer": aof_buf, "not_counted": f["not_counted"],
        "allocated": allocated,
        "active": active, "resident": resident,
    }


def _ratio(a, b):
    return a / b if b else 0.0


@section("memory")
def _memory(node):
    f = memory_figures(node)
    sm = scripting_memory(node)
    used, rss, peak = f["used"], f["rss"], f["peak"]
    total = psutil.virtual_memory().total
    maxmemory = node.config.values.get("maxmemory", 0) or 0
    policy = node.config.values.get("maxmemoryPolicy", "noeviction")
    return [
        ("used_memory", used),
        ("used_memory_human", human_bytes(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", human_bytes(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", human_bytes(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (100.0 * _ratio(used, peak))),
        ("used_memory_overhead", f["overhead"]),
        ("used_memory_startup", f["startup"]),
        ("used_memory_dataset", f["dataset"]),
        ("used_memory_dataset_perc", "%.2f%%" % (100.0 * _ratio(f["dataset"], used - f["startup"]))),
        ("allocator_allocated", f["allocated"]),
        ("allocator_active", f["active"]),
        ("allocator_resident", f["resident"]),
        ("total_system_memory", total),
        ("total_system_memory_human", human_bytes(total)),
        ("used_memory_lua", sm["vm_eval"]),
        ("used_memory_vm_eval", sm["vm_eval"]),
        ("used_memory_lua_human", human_bytes(sm["vm_eval"])),
        ("used_memory_scripts_eval", sm["scripts_eval"]),
        ("number_of_cached_scripts", sm["cached_scripts"]),
        ("number_of_functions", sm["functions"]),
        ("number_of_libraries", sm["libraries"]),
        ("used_memory_vm_functions", sm["vm_functions"]),
        ("used_memory_vm_total", sm["vm_eval"] + sm["vm_functions"]),
        ("used_memory_vm_total_human", human_bytes(sm["vm_eval"] + sm["vm_functions"])),
        ("used_memory_functions", sm["functions_overhead"]),
        ("used_memory_scripts", sm["scripts_eval"] + sm["functions_overhead"]),
        ("used_memory_scripts_human", human_bytes(sm["scripts_eval"] + sm["functions_overhead"])),
        ("maxmemory", maxmemory),
        ("maxmemory_human", human_bytes(maxmemory)),
        ("maxmemory_policy", policy),
        ("allocator_frag_ratio", "%.2f" % _ratio(f["active"], f["allocated"])),
        ("allocator_frag_bytes", f["active"] - f["allocated"]),
        ("allocator_rss_ratio", "%.2f" % _ratio(f["resident"], f["active"])),
        ("allocator_rss_bytes", f["resident"] - f["active"]),
        ("rss_overhead_ratio", "%.2f" % _ratio(rss, f["resident"])),
        ("rss_overhead_bytes", rss - f["resident"]),
        ("mem_fragmentation_ratio", "%.2f" % _ratio(rss, used)),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", f["not_counted"]),
        ("mem_replication_backlog", f["backlog"]),
        ("mem_total_replication_buffers", f["backlog"] + f["mem_replicas"]),
        ("mem_clients_slaves", f["mem_replicas"]),
        ("mem_clients_normal", f["mem_normal"]),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", f["aof_buffer"]),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", _stat(node.keyspace, "lazyfree_pending_objects", 0)),
        ("lazyfreed_objects", _stat(node.keyspace, "lazyfreed_objects", 0)),
    ]


@section("stats")
def _stats(node):
    s = node.stats
    ks = node.keyspace
    m = _metrics(node)
    if m is not None:
        ops = int(round(m.instantaneous("ops")))
        kin, kout = m.instantaneous("net_in"), m.instantaneous("net_out")
    else:
        ops, kin, kout = 0, 0.0, 0.0
    channels = getattr(node, "pubsub_channels", ())
    patterns = getattr(node, "pubsub_patterns", ())
    shard = getattr(node, "pubsub_shard_channels", ())
    return [
        ("total_connections_received", s.connections_received),
        ("total_commands_processed", m.total_commands() if m is not None else s.commands),
        ("instantaneous_ops_per_sec", ops),
        ("total_net_input_bytes", s.net_input_bytes),
        ("total_net_output_bytes", s.net_output_bytes),
        ("total_net_repl_input_bytes", _stat(s, "net_repl_input_bytes")),
        ("total_net_repl_output_bytes", _stat(s, "net_repl_output_bytes")),
        ("instantaneous_input_kbps", "%.2f" % kin),
        ("instantaneous_output_kbps", "%.2f" % kout),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", s.rejected_connections),
        ("sync_full", _stat(s, "sync_full")),
        ("sync_partial_ok", _stat(s, "sync_partial_ok")),
        ("sync_partial_err", _stat(s, "sync_partial_err")),
        ("expired_keys", ks.stat_expired_keys),
        ("expired_stale_perc", "%.2f" % ks.stat_expired_stale_perc),
        ("expired_time_cap_reached_count", _stat(ks, "stat_expired_time_cap_reached_count")),
        ("expire_cycle_cpu_milliseconds", _stat(ks, "stat_expire_cycle_cpu_milliseconds")),
        ("evicted_keys", ks.stat_evicted_keys),
        ("evicted_clients", _stat(s, "evicted_clients")),
        ("total_eviction_exceeded_time", _stat(s, "total_eviction_exceeded_time")),
        ("current_eviction_exceeded_time", _stat(s, "current_eviction_exceeded_time")),
        ("keyspace_hits", s.keyspace_hits),
        ("keyspace_misses", s.keyspace_misses),
        ("pubsub_channels", len(channels) if not isinstance(channels, int) else channels),
        ("pubsub_patterns", len(patterns) if not isinstance(patterns, int) else patterns),
        ("pubsubshard_channels", len(shard) if not isinstance(shard, int) else shard),
        ("latest_fork_usec", _stat(s, "latest_fork_usec")),
        ("total_forks", _stat(s, "total_forks")),
        ("migrate_cached_sockets", _migrate_cached_sockets()),
        ("slave_expires_tracked_keys", len(ks.replica_expires)),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", _stat(s, "tracking_total_keys")),
        ("tracking_total_items", _stat(s, "tracking_total_items")),
        ("tracking_total_prefixes", _stat(s, "tracking_total_prefixes")),
        ("unexpected_error_replies", _stat(s, "unexpected_error_replies")),
        ("total_error_replies", s.error_replies),
        ("dump_payload_sanitizations", _stat(s, "dump_payload_sanitizations")),
        ("total_reads_processed", _stat(s, "reads_processed", 0)),
        ("total_writes_processed", _stat(s, "writes_processed", 0)),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ]


@section("replication")
def _replication(node):
    if hasattr(node, "replication_info"):
        return node.replication_info()
    return [("role", "master"), ("connected_slaves", 0),
            ("master_failover_state", "no-failover"),
            ("master_replid", node.run_id),
            ("master_replid2", "0" * 40),
            ("master_repl_offset", 0), ("second_repl_offset", -1),
            ("repl_backlog_active", 0), ("repl_backlog_size", 1048576),
            ("repl_backlog_first_byte_offset", 0), ("repl_backlog_histlen", 0)]


@section("cpu")
def _cpu(node):
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = [
        ("used_cpu_sys", "%.6f" % r.ru_stime),
        ("used_cpu_user", "%.6f" % r.ru_utime),
        ("used_cpu_sys_children", "%.6f" % c.ru_stime),
        ("used_cpu_user_children", "%.6f" % c.ru_utime),
    ]
    if hasattr(resource, "RUSAGE_THREAD"):
        t = resource.getrusage(resource.RUSAGE_THREAD)
        out += [("used_cpu_sys_main_thread", "%.6f" % t.ru_stime),
                ("used_cpu_user_main_thread", "%.6f" % t.ru_utime)]
    return out


@section("modules")
def _modules(node):
    return []


@section("errorstats")
def _errorstats(node):
    return [("errorstat_%s" % k, "count=%d" % v)
            for k, v in sorted(node.stats.errors_by_kind.items())]


@section("cluster")
def _cluster(node):
    return [("cluster_enabled", 1 if node.cluster is not None else 0)]


@section("keyspace")
def _keyspace(node):
    out = []
    for db in node.keyspace.dbs:
        if db.data:
            out.append(("db%d" % db.id, "keys=%d,expires=%d,avg_ttl=%d"
                        % (len(db.data), len(db.expires), db.avg_ttl)))
    return out


@section("commandstats")
def _commandstats(node):
    from ..commands import registry
    registry.settle_stats()
    out = []
    for spec in registry.all_specs(include_subcommands=True):
        calls, usec, rejected, failed = spec.stats[:4]
        if calls or rejected or failed:
            out.append(("cmdstat_%s" % spec.fullname,
                        "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
                        % (calls, usec, usec / calls if calls else 0.0, rejected, failed)))
    return out


def percentile_value(us):
    """A histogram value (whole usec, recorded as usec * 1000 ns like Redis)
    as Redis prints it: the HdrHistogram highest equivalent in ns / 1000."""
    from .metrics import hdr_highest
    return "%.3f" % (hdr_highest(us * 1000 if us > 0 else 1) / 1000.0)


@section("latencystats")
def _latencystats(node):
    from .metrics import percentile, format_percentile
    m = _metrics(node)
    if m is None or not m.tracking:     # Redis shows nothing while latency-tracking is off
        return []
    pcts = node.config["latencyTrackingInfoPercentiles"]
    out = []
    for spec, counts, total in m.command_histograms():
        out.append(("latency_percentiles_usec_%s" % spec.fullname,
                    ",".join("p%s=%s" % (format_percentile(p),
                                         percentile_value(percentile(counts, total, p)))
                             for p in pcts)))
    return out


def _migrate_cached_sockets():
    from ..commands.cluster import migrate_cached_sockets
    return migrate_cached_sockets()
