"""INFO sections.  Each section is a function node -> list of (field, value);
subsystems register theirs with ``section(name)``.  Order and grouping
(default / all / everything) follow Redis 7."""
import os
import platform
import resource
import sys
import time

import psutil

SECTIONS = {}
DEFAULT_ORDER = ["server", "clients", "memory", "persistence", "stats", "replication",
                 "cpu", "modules", "errorstats", "cluster", "keyspace"]
ALL_EXTRA = ["commandstats", "latencystats"]
_proc = psutil.Process()


def section(name):
    def register(fn):
        SECTIONS[name] = fn
        return fn
    return register


def render(node, args):
    """INFO text for the requested sections (Redis's selection rules)."""
    wanted = [a.decode("utf-8", "replace").lower() for a in args] or ["default"]
    names = []
    for w in wanted:
        if w in ("all", "everything"):
            names.extend(DEFAULT_ORDER + ALL_EXTRA)
        elif w == "default":
            names.extend(DEFAULT_ORDER)
        else:
            names.append(w)
    seen = set()
    parts = []
    for n in names:
        if n in seen or n not in SECTIONS:
            continue
        seen.add(n)
        fields = SECTIONS[n](node)
        if fields is None:
            continue
        title = n.capitalize() if n not in ("errorstats", "commandstats", "latencystats") else \
            {"errorstats": "Errorstats", "commandstats": "Commandstats",
             "latencystats": "Latencystats"}[n]
        lines = ["# %s" % title]
        for k, v in fields:
            lines.append("%s:%s" % (k, v))
        parts.append("\r\n".join(lines))
    return ("\r\n\r\n".join(parts) + "\r\n") if parts else ""


def human_bytes(n):
    n = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return ("%.2f%s" % (n, unit)) if unit != "B" else "%dB" % n
        n /= 1024


@section("server")
def _server(node):
    uptime = int(time.monotonic() - node.started_monotonic)
    u = platform.uname()
    return [
        ("redis_version", node.redis_version),
        ("nodensync_version", node.version),
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
        ("python_version", platform.python_version()),
        ("process_id", os.getpid()),
        ("process_supervised", "systemd" if os.environ.get("NOTIFY_SOCKET") else "no"),
        ("run_id", node.run_id),
        ("tcp_port", node.tcp_port),
        ("server_time_usec", int(time.time() * 1e6)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", node.config["hz"]),
        ("configured_hz", node.config["hz"]),
        ("lru_clock", int(time.time()) & ((1 << 24) - 1)),
        ("executable", os.path.abspath(sys.argv[0])),
        ("config_file", os.path.abspath(node.config.path) if node.config.path else ""),
        ("io_threads_active", 0),
    ]


@section("clients")
def _clients(node):
    clients = list(node.clients.values())
    return [
        ("connected_clients", sum(1 for c in clients if not c.is_replica)),
        ("cluster_connections", 0),
        ("maxclients", node.config["maxclients"]),
        ("client_recent_max_input_buffer", max((c.qbuf_len for c in clients), default=0)),
        ("client_recent_max_output_buffer", max((c.out_bytes for c in clients), default=0)),
        ("blocked_clients", sum(1 for c in clients if c.blocked)),
        ("tracking_clients", 0),
        ("clients_in_timeout_table", sum(1 for c in clients if c.blocked)),
    ]


@section("memory")
def _memory(node):
    mem = _proc.memory_info()
    rss = mem.rss
    node.used_memory_peak = max(getattr(node, "used_memory_peak", 0), rss)
    used = node.used_memory() if hasattr(node, "used_memory") else rss
    total = psutil.virtual_memory().total
    maxmemory = node.config.values.get("maxmemory", 0)
    return [
        ("used_memory", used),
        ("used_memory_human", human_bytes(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", human_bytes(rss)),
        ("used_memory_peak", node.used_memory_peak),
        ("used_memory_peak_human", human_bytes(node.used_memory_peak)),
        ("used_memory_peak_perc", "%.2f%%" % (100.0 * used / max(1, node.used_memory_peak))),
        ("used_memory_dataset", used),
        ("total_system_memory", total),
        ("total_system_memory_human", human_bytes(total)),
        ("maxmemory", maxmemory),
        ("maxmemory_human", human_bytes(maxmemory)),
        ("maxmemory_policy", node.config.values.get("maxmemoryPolicy", "noeviction")),
        ("mem_fragmentation_ratio", "%.2f" % (rss / max(1, used))),
        ("mem_allocator", "pymalloc"),
        ("lazyfree_pending_objects", 0),
    ]


@section("stats")
def _stats(node):
    s = node.stats
    ks = node.keyspace
    ops = node.instantaneous("ops") if hasattr(node, "instantaneous") else 0
    return [
        ("total_connections_received", s.connections_received),
        ("total_commands_processed", s.commands),
        ("instantaneous_ops_per_sec", ops),
        ("total_net_input_bytes", s.net_input_bytes),
        ("total_net_output_bytes", s.net_output_bytes),
        ("rejected_connections", s.rejected_connections),
        ("expired_keys", ks.stat_expired_keys),
        ("expired_stale_perc", "%.2f" % ks.stat_expired_stale_perc),
        ("evicted_keys", ks.stat_evicted_keys),
        ("keyspace_hits", s.keyspace_hits),
        ("keyspace_misses", s.keyspace_misses),
        ("pubsub_channels", len(getattr(node, "pubsub_channels", ()))),
        ("pubsub_patterns", len(getattr(node, "pubsub_patterns", ()))),
        ("client_query_buffer_limit_disconnections", s.client_query_buffer_limit_disconnections),
        ("client_output_buffer_limit_disconnections", s.client_output_buffer_limit_disconnections),
        ("total_error_replies", s.error_replies),
        ("unexpected_error_replies", 0),
        ("total_reads_processed", s.net_input_bytes and s.commands),
    ]


@section("replication")
def _replication(node):
    if hasattr(node, "replication_info"):
        return node.replication_info()
    return [("role", "master"), ("connected_slaves", 0),
            ("master_replid", node.run_id), ("master_repl_offset", 0)]


@section("cpu")
def _cpu(node):
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        ("used_cpu_sys", "%.6f" % r.ru_stime),
        ("used_cpu_user", "%.6f" % r.ru_utime),
        ("used_cpu_sys_children", "%.6f" % c.ru_stime),
        ("used_cpu_user_children", "%.6f" % c.ru_utime),
    ]


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
    out = []
    for spec in registry.all_specs(include_subcommands=True):
        calls, usec, rejected, failed = spec.stats
        if calls or rejected or failed:
            out.append(("cmdstat_%s" % spec.fullname,
                        "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
                        % (calls, usec, usec / calls if calls else 0.0, rejected, failed)))
    return out
