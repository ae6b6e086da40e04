"""HTTP endpoint for monitoring (``--metricsAddr host:port``, off by default),
served by gevent's WSGI server inside the server process:

* ``/metrics``: Prometheus text format.  Names follow redis_exporter where
  they mean the same thing (``redis_up``, ``redis_connected_clients``,
  ``redis_commands_processed_total``, ``redis_memory_used_bytes``,
  ``redis_db_keys{db="db0"}``, ``redis_commands_total{cmd="get"}``,
  ``redis_commands_duration_seconds_total{cmd=...}``, ...), so existing
  dashboards and alerts work; NodeNsync's own figures are ``nodensync_*``
  and the standard ``process_*`` collector is included.  Figures are read
  from the node when scraped: nothing is counted on the command path for
  this endpoint.
* ``/healthz``: 200 while the process is up and its listener serves; 503
  once it is shutting down.
* ``/readyz``: 200 when the node can serve its data: not loading
  (``node.loading``) and, on a replica, the link to the master is up.  The
  replica check reads ``node.replication`` (provided by the replication
  subsystem): ``role`` ("master" / "replica" / "slave") and ``link_up``
  (bool); a node whose ``role_name()`` is "replica" without that object is
  reported not ready.  503 with the reason otherwise.
"""
import logging

from prometheus_client import CollectorRegistry, generate_latest, CONTENT_TYPE_LATEST
from prometheus_client import ProcessCollector
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, SummaryMetricFamily)

from .. import config as cfg

log = logging.getLogger("nodensync")


def _parse_addr(text):
    text = text.strip()
    if not text:
        return ""
    return cfg.parse_listen(text)


cfg.declare("metricsAddr", "str", "",
            "Serve /metrics (Prometheus), /healthz and /readyz over HTTP on host:port "
            "('' = off).", parser=_parse_addr,
            formatter=lambda v: cfg.format_listen(v) if v else "", group="monitoring")


# -- readiness ----------------------------------------------------------------------
def liveness(node):
    if node.shutting_down:
        return False, "shutting down"
    if node.listener is None:
        return False, "not listening"
    return True, "ok"


def readiness(node):
    ok, reason = liveness(node)
    if not ok:
        return ok, reason
    if node.loading:
        return False, "loading the data set"
    repl = getattr(node, "replication", None)
    role = getattr(repl, "role", None) if repl is not None else None
    if role is None:
        role = node.role_name()
    if role in ("replica", "slave"):
        if not getattr(repl, "link_up", False):
            return False, "replica: link to the master is down"
    return True, "ok"


# -- the collector -------------------------------------------------------------------
def _g(name, doc, value, labels=None):
    if labels:
        m = GaugeMetricFamily(name, doc, labels=list(labels))
        m.add_metric(list(labels.values()), value)
        return m
    return GaugeMetricFamily(name, doc, value=value)


def _c(name, doc, value):
    return CounterMetricFamily(name, doc, value=value)


class NodeCollector:
    def __init__(self, node):
        self.node = node

    def describe(self):
        return []

    def collect(self):
        from . import info as info_mod
        from .metrics import percentile, cumulative_levels
        node = self.node
        conf = node.config
        s = node.stats
        ks = node.keyspace
        m = getattr(node, "metrics", None)
        fields = {}
        for name in ("server", "clients", "stats", "cpu", "replication"):
            fn = info_mod.SECTIONS.get(name)
            if fn is not None:
                try:
                    fields.update((k, v) for k, v in (fn(node) or ()))
                except Exception:
                    log.exception("INFO %s for /metrics failed", name)

        def num(key, default=0):
            try:
                return float(fields.get(key, default))
            except (TypeError, ValueError):
                return float(default)

        yield _g("redis_up", "Information about the Redis instance", 1)
        role = str(fields.get("role", node.role_name()))
        yield _g("redis_instance_info", "Information about the Redis instance", 1, {
            "role": role, "redis_version": node.redis_version,
            "redis_build_id": str(fields.get("redis_build_id", "")),
            "redis_mode": str(fields.get("redis_mode", "standalone")),
            "os": str(fields.get("os", "")),
            "maxmemory_policy": str(conf.values.get("maxmemoryPolicy", "noeviction")),
            "tcp_port": str(node.tcp_port), "run_id": node.run_id,
            "process_id": str(fields.get("process_id", "")),
            "nodensync_version": node.version})
        yield _g("redis_uptime_in_seconds", "uptime_in_seconds metric", num("uptime_in_seconds"))
        yield _g("redis_start_time_seconds",
                 "Start time of the Redis instance since unix epoch in seconds.", node.started)
        yield _g("redis_process_id", "process_id metric", num("process_id"))
        # clients
        yield _g("redis_connected_clients", "connected_clients metric", num("connected_clients"))
        yield _g("redis_blocked_clients", "blocked_clients metric", num("blocked_clients"))
        yield _g("redis_tracking_clients", "tracking_clients metric", num("tracking_clients"))
        yield _g("redis_client_recent_max_input_buffer_bytes",
                 "client_recent_max_input_buffer_bytes metric",
                 num("client_recent_max_input_buffer"))
        yield _g("redis_client_recent_max_output_buffer_bytes",
                 "client_recent_max_output_buffer_bytes metric",
                 num("client_recent_max_output_buffer"))
        yield _g("redis_config_maxclients", "config_maxclients metric", conf["maxclients"])
        # memory
        f = info_mod.memory_figures(node)
        maxmemory = conf.values.get("maxmemory", 0) or 0
        yield _g("redis_memory_used_bytes", "memory_used_bytes metric", f["used"])
        yield _g("redis_memory_used_rss_bytes", "memory_used_rss_bytes metric", f["rss"])
        yield _g("redis_memory_used_peak_bytes", "memory_used_peak_bytes metric", f["peak"])
        yield _g("redis_memory_used_startup_bytes", "memory_used_startup_bytes metric",
                 f["startup"])
        yield _g("redis_memory_used_dataset_bytes", "memory_used_dataset_bytes metric",
                 f["dataset"])
        yield _g("redis_memory_used_overhead_bytes", "memory_used_overhead_bytes metric",
                 f["overhead"])
        yield _g("redis_memory_max_bytes", "memory_max_bytes metric", maxmemory)
        yield _g("redis_config_maxmemory", "config_maxmemory metric", maxmemory)
        yield _g("redis_mem_fragmentation_ratio", "mem_fragmentation_ratio metric",
                 f["rss"] / f["used"] if f["used"] else 0.0)
        yield _g("redis_mem_clients_normal", "mem_clients_normal metric", f["mem_normal"])
        yield _g("redis_mem_clients_slaves", "mem_clients_slaves metric", f["mem_replicas"])
        # persistence / loading
        yield _g("redis_loading_dump_file", "loading_dump_file metric", 1 if node.loading else 0)
        # stats
        yield _c("redis_connections_received_total", "connections_received_total metric",
                 s.connections_received)
        yield _c("redis_commands_processed_total", "commands_processed_total metric",
                 num("total_commands_processed"))
        yield _c("redis_rejected_connections_total", "rejected_connections_total metric",
                 s.rejected_connections)
        yield _c("redis_net_input_bytes_total", "net_input_bytes_total metric",
                 s.net_input_bytes)
        yield _c("redis_net_output_bytes_total", "net_output_bytes_total metric",
                 s.net_output_bytes)
        yield _c("redis_expired_keys_total", "expired_keys_total metric", ks.stat_expired_keys)
        yield _c("redis_evicted_keys_total", "evicted_keys_total metric", ks.stat_evicted_keys)
        yield _c("redis_keyspace_hits_total", "keyspace_hits_total metric", s.keyspace_hits)
        yield _c("redis_keyspace_misses_total", "keyspace_misses_total metric",
                 s.keyspace_misses)
        yield _g("redis_pubsub_channels", "pubsub_channels metric", num("pubsub_channels"))
        yield _g("redis_pubsub_patterns", "pubsub_patterns metric", num("pubsub_patterns"))
        yield _g("redis_latest_fork_usec", "latest_fork_usec metric", num("latest_fork_usec"))
        yield _g("redis_expired_stale_percentage", "expired_stale_percentage metric",
                 num("expired_stale_perc"))
        yield _g("redis_instantaneous_ops_per_sec", "instantaneous_ops_per_sec metric",
                 num("instantaneous_ops_per_sec"))
        yield _g("redis_instantaneous_input_kbps", "instantaneous_input_kbps metric",
                 num("instantaneous_input_kbps"))
        yield _g("redis_instantaneous_output_kbps", "instantaneous_output_kbps metric",
                 num("instantaneous_output_kbps"))
        yield _c("redis_error_replies_total", "total_error_replies metric", s.error_replies)
        errs = CounterMetricFamily("redis_errors_total", "Total number of errors per error type",
                                   labels=["err"])
        for kind, n in sorted(s.errors_by_kind.items()):
            errs.add_metric([kind], n)
        yield errs
        # cpu
        yield _c("redis_cpu_sys_seconds_total", "cpu_sys_seconds_total metric", num("used_cpu_sys"))
        yield _c("redis_cpu_user_seconds_total", "cpu_user_seconds_total metric",
                 num("used_cpu_user"))
        yield _c("redis_cpu_sys_children_seconds_total", "cpu_sys_children_seconds_total metric",
                 num("used_cpu_sys_children"))
        yield _c("redis_cpu_user_children_seconds_total",
                 "cpu_user_children_seconds_total metric", num("used_cpu_user_children"))
        # replication
        yield _g("redis_connected_slaves", "connected_slaves metric", num("connected_slaves"))
        yield _g("redis_master_repl_offset", "master_repl_offset metric",
                 num("master_repl_offset"))
        if role in ("slave", "replica"):
            repl = getattr(node, "replication", None)
            up = getattr(repl, "link_up", None)
            if up is None:
                up = fields.get("master_link_status") == "up"
            yield _g("redis_master_link_up", "Master link status on Redis slave", 1 if up else 0,
                     {"master_host": str(fields.get("master_host", "")),
                      "master_port": str(fields.get("master_port", ""))})
        # keyspace
        keys = GaugeMetricFamily("redis_db_keys", "Total number of keys by DB", labels=["db"])
        expiring = GaugeMetricFamily("redis_db_keys_expiring",
                                     "Total number of expiring keys by DB", labels=["db"])
        ttl = GaugeMetricFamily("redis_db_avg_ttl_seconds", "Avg TTL in seconds", labels=["db"])
        for db in ks.dbs:
            if db.data or db.id == 0:
                label = ["db%d" % db.id]
                keys.add_metric(label, len(db.data))
                expiring.add_metric(label, len(db.expires))
                ttl.add_metric(label, db.avg_ttl / 1000.0)
        yield keys
        yield expiring
        yield ttl
        # commands
        from ..commands import registry
        calls = CounterMetricFamily("redis_commands_total", "Total number of calls per command",
                                    labels=["cmd"])
        dur = CounterMetricFamily("redis_commands_duration_seconds_total",
                                  "Total amount of time in seconds spent per command",
                                  labels=["cmd"])
        rej = CounterMetricFamily("redis_commands_rejected_calls_total",
                                  "Total number of errors prior command execution per command",
                                  labels=["cmd"])
        fail = CounterMetricFamily("redis_commands_failed_calls_total",
                                   "Total number of errors within command execution per command",
                                   labels=["cmd"])
        registry.settle_stats()
        for spec in registry.all_specs(include_subcommands=True):
            c, usec, r, fl = spec.stats[:4]
            if c or r or fl:
                label = [spec.fullname]
                calls.add_metric(label, c)
                dur.add_metric(label, usec / 1e6)
                rej.add_metric(label, r)
                fail.add_metric(label, fl)
        yield calls
        yield dur
        yield rej
        yield fail
        # slow log / latency
        slowlog = node.slowlog
        yield _g("redis_slowlog_length", "Total slowlog", len(slowlog))
        yield _g("redis_slowlog_last_id", "Last id of slowlog",
                 slowlog[0][0] if slowlog else 0)
        yield _g("redis_last_slow_execution_duration_seconds",
                 "The amount of time needed for last slow execution, in seconds",
                 slowlog[0][2] / 1e6 if slowlog else 0)
        if m is not None:
            last = GaugeMetricFamily("redis_latency_spike_last",
                                     "When the latency spike last occurred",
                                     labels=["event_name"])
            spike = GaugeMetricFamily("redis_latency_spike_duration_seconds",
                                      "Length of the last latency spike in seconds",
                                      labels=["event_name"])
            for name, (max_ms, samples) in list(m.latency_events.items()):
                if samples:
                    last.add_metric([name], samples[-1][0])
                    spike.add_metric([name], samples[-1][1] / 1e3)
            yield last
            yield spike
            pcts = conf["latencyTrackingInfoPercentiles"]
            summ = SummaryMetricFamily("redis_latency_percentiles_usec",
                                       "A summary of latency percentile distribution per "
                                       "command", labels=["cmd"])
            hist = HistogramMetricFamily("redis_latency_usec",
                                         "A histogram of latencies per command", labels=["cmd"])
            for spec, counts, total in m.command_histograms():
                usec_sum = float(spec.stats[1])
                label = [spec.fullname]
                summ.add_metric(label, count_value=total, sum_value=usec_sum)
                for p in pcts:
                    summ.add_sample("redis_latency_percentiles_usec",
                                    {"cmd": spec.fullname, "quantile": "%.10g" % (p / 100.0)},
                                    float(percentile(counts, total, p)))
                buckets = [(repr(float(us)), float(cum)) for us, cum in cumulative_levels(counts)]
                buckets.append(("+Inf", float(total)))
                hist.add_metric(label, buckets, sum_value=usec_sum)
            yield summ
            yield hist
            # NodeNsync's own
            yield _g("nodensync_event_loop_lag_seconds",
                     "How late the last 100 ms timer fired (event-loop stall)", m.loop_lag)
            yield _g("nodensync_event_loop_lag_max_seconds",
                     "Largest event-loop lag seen since start", m.loop_lag_max)
            yield _g("nodensync_sampler_rss_bytes", "RSS at the last 1 s sample", m.rss)
            yield _g("nodensync_sampler_cpu_percent",
                     "CPU use (user + system) over the last sampling interval", m.cpu_percent)
            yield _g("nodensync_sampler_open_files", "Open file descriptors at the last sample",
                     m.open_files)
            yield _g("nodensync_sampler_connections", "Client connections at the last sample",
                     m.connections)
        pause = getattr(node, "client_pause", None)
        yield _g("nodensync_clients_paused", "1 while CLIENT PAUSE is in effect",
                 1 if pause is not None else 0)
        ready, _ = readiness(node)
        yield _g("nodensync_ready", "1 when /readyz reports ready", 1 if ready else 0)


# -- the WSGI app ------------------------------------------------------------------------
class App:
    def __init__(self, node):
        self.node = node
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(NodeCollector(node))
        try:
            ProcessCollector(registry=self.registry)
        except Exception:   # not on Linux /proc
            pass

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return self._reply(start_response, "405 Method Not Allowed",
                               b"method not allowed\n", method)
        try:
            if path == "/metrics":
                body = generate_latest(self.registry)
                return self._reply(start_response, "200 OK", body, method,
                                   CONTENT_TYPE_LATEST)
            if path == "/healthz":
                ok, reason = liveness(self.node)
            elif path == "/readyz":
                ok, reason = readiness(self.node)
            elif path == "/":
                return self._reply(start_response, "200 OK",
                                   b"NodeNsync: /metrics /healthz /readyz\n", method)
            else:
                return self._reply(start_response, "404 Not Found", b"not found\n", method)
        except Exception:
            log.exception("HTTP %s failed", path)
            return self._reply(start_response, "500 Internal Server Error",
                               b"internal error\n", method)
        status = "200 OK" if ok else "503 Service Unavailable"
        return self._reply(start_response, status, (reason + "\n").encode(), method)

    @staticmethod
    def _reply(start_response, status, body, method, ctype="text/plain; charset=utf-8"):
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body))),
                                ("Cache-Control", "no-store")])
        return [b""] if method == "HEAD" else [body]


class _QuietLog:
    """pywsgi error log -> our logger at debug level."""

    def write(self, text):
        text = text.strip()
        if text:
            log.debug("metrics http: %s", text)

    def flush(self):
        pass


def attach(node):
    addr = node.config["metricsAddr"]
    node.http_server = None
    if not addr:
        return

    def start():
        from gevent.pywsgi import WSGIServer
        host, port = addr
        try:
            server = WSGIServer((host, port), App(node), log=None, error_log=_QuietLog())
            server.start()
        except OSError as e:
            log.error("Could not listen on metricsAddr %s:%d: %s", host, port, e)
            raise SystemExit(1)
        node.http_server = server
        log.info("Metrics and health endpoint on http://%s:%d (/metrics /healthz /readyz)",
                 host, server.server_port)

    def stop(save=None):
        server = node.http_server
        if server is not None:
            server.close()

    # Started now, before the start hooks: /healthz and /readyz answer while
    # a start hook loads the data set.
    start()
    node.shutdown_hooks.append(stop)
