"""Health figures of one process, collected cheaply.

* A 100 ms tick (Redis's ``trackInstantaneousMetric`` period) keeps 16-sample
  rings of commands/s, input and output kbps, and measures the event loop's
  lag: how late the tick fires.  A lag over ``latency-monitor-threshold``
  becomes an ``event-loop`` latency sample (LATENCY LATEST/HISTORY).
* Every second (``metricsSampler yes``) psutil samples RSS, CPU user/sys,
  open files; connections come from the node's client table (scanning
  /proc/net would stall the loop with many clients).
* Per-command latency histograms (``latency-tracking yes``): the command
  path adds one count to a log-linear bucket (exact below 32 us, then 16
  buckets per power of two, about 6 % wide) of ``CommandSpec.hist``.
  Percentiles for INFO latencystats, LATENCY HISTOGRAM and /metrics are
  computed from these counts when asked, never on the hot path.
* The latency monitor (LATENCY ...): ``latency_sample(node, event, ms)`` is
  what any subsystem calls for a timed event (fork, fsync, ...); a sample is
  kept only when the monitor is on and ``ms >= latency-monitor-threshold``,
  one per second per event (the larger), 160 per event, as Redis does.
"""
import ctypes
import ctypes.util
import logging
import time
from collections import deque

import gevent
import psutil

from .. import config as cfg

log = logging.getLogger("nodensync")

cfg.declare("latencyTracking", "bool", True,
            "Track per-command latency histograms (INFO latencystats, LATENCY HISTOGRAM).",
            redis="latency-tracking", mutable=True, group="monitoring")


def _parse_percentiles(text):
    out = []
    for word in text.split():
        try:
            p = float(word)
        except ValueError:
            raise ValueError("Invalid latency-tracking-info-percentiles parameters") from None
        if not 0.0 <= p <= 100.0:
            raise ValueError("latency-tracking-info-percentiles parameters should sit "
                             "between [0.0,100.0]")
        out.append(p)
    return tuple(out)


def format_percentile(p):
    """50.0 -> '50', 99.9 -> '99.9' (Redis trims the %f text)."""
    text = "%f" % p
    return text.rstrip("0").rstrip(".") if "." in text else text


cfg.declare("latencyTrackingInfoPercentiles", "str", (50.0, 99.0, 99.9),
            "Percentiles reported by INFO latencystats, space separated.",
            redis="latency-tracking-info-percentiles", mutable=True, group="monitoring",
            parser=_parse_percentiles,
            formatter=lambda v: " ".join(format_percentile(p) for p in v))
cfg.declare("metricsSampler", "bool", True,
            "Sample process figures (RSS, CPU, open files, connections) every second for "
            "/metrics and INFO.", mutable=True, group="monitoring")

SAMPLES = 16                 # Redis's STATS_METRIC_SAMPLES
TICK = 0.1                   # seconds between instantaneous samples
LATENCY_HISTORY = 160        # Redis's LATENCY_TS_LEN
NBUCKETS = 528               # registry.hist_bucket's range (latencies clamped at 2^36 us)

_perf = time.perf_counter


# -- histogram buckets --------------------------------------------------------
# The counts live in ``CommandSpec.hist``; dispatch.call and the client loop's
# inline path add one per command: ``hist[us if us < 32 else hist_bucket(us)]``.
def bucket_index(us):
    from ..commands.registry import hist_bucket
    return us if us < 32 else hist_bucket(us)


def bucket_bounds(i):
    """(lowest, highest) microseconds counted in bucket ``i``."""
    if i < 32:
        return i, i
    b = (i >> 4) + 4
    width = 1 << (b - 5)
    low = (16 + (i & 15)) * width
    return low, low + width - 1


def percentile(counts, total, p):
    """Highest value of the bucket holding the p-th percentile (HdrHistogram's
    value_at_percentile)."""
    if not total:
        return 0
    target = max(1, int(p / 100.0 * total + 0.5))
    seen = 0
    for i, n in enumerate(counts):
        if n:
            seen += n
            if seen >= target:
                return bucket_bounds(i)[1]
    return bucket_bounds(len(counts) - 1)[1]


def hdr_highest(ns):
    """HdrHistogram's highest equivalent value of ``ns`` with 2 significant
    figures (Redis's histograms): what Redis reports for a recorded value."""
    if ns < 256:
        return ns
    size = 1 << (ns.bit_length() - 8)
    return (ns // size) * size + size - 1


def cumulative_levels(counts, levels=21):
    """[(usec, cumulative count)] at every one of the first ``levels`` Redis
    reporting levels (1 us .. about 1 s): fixed buckets for Prometheus."""
    out = []
    cum = i = 0
    n = len(counts)
    for k in range(levels):
        level_ns = hdr_highest(1024 << k)
        while i < n and bucket_bounds(i)[0] * 1000 <= level_ns:
            cum += counts[i]
            i += 1
        out.append((level_ns // 1000, cum))
    return out


def cumulative_pow2(counts):
    """LATENCY HISTOGRAM's shape: [(usec, cumulative count)] at Redis's
    power-of-two reporting levels (1024 ns * 2^k, shown as the level's
    highest equivalent value in whole usec), only where the count grew."""
    out = []
    total = sum(counts)
    cum = prev = i = k = 0
    n = len(counts)
    while cum < total and k < 64:
        level_ns = hdr_highest(1024 << k)
        while i < n and bucket_bounds(i)[0] * 1000 <= level_ns:
            cum += counts[i]
            i += 1
        if cum > prev:
            out.append((level_ns // 1000, cum))
        prev = cum
        k += 1
    return out


# -- used memory -----------------------------------------------------------------
class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


_mallinfo2 = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _mallinfo2 = _libc.mallinfo2
    _mallinfo2.restype = _Mallinfo2
except (OSError, AttributeError):
    _mallinfo2 = None


def malloc_stats():
    """(allocated, active, resident) bytes of the C allocator, or None."""
    if _mallinfo2 is None:
        return None
    m = _mallinfo2()
    return m.uordblks + m.hblkhd, m.arena + m.hblkhd, m.arena + m.hblkhd


class Metrics:
    """Owned by the node as ``node.metrics``."""

    def __init__(self, node):
        self.node = node
        self.proc = psutil.Process()
        self.hists = {}                      # CommandSpec -> counts (kept when tracking stops)
        self.rings = {"ops": [0] * SAMPLES, "net_in": [0] * SAMPLES,
                      "net_out": [0] * SAMPLES}
        self.ring_idx = 0
        self._last = None                    # (t, commands, in, out)
        self._specs = None
        mem = self.proc.memory_info()
        self.rss = mem.rss
        self.startup_rss = mem.rss
        self.peak_rss = mem.rss
        self.cpu_user = self.cpu_sys = 0.0
        self.cpu_percent = 0.0
        self._cpu_last = None
        self.open_files = 0
        self.connections = 0
        self.loop_lag = 0.0                  # seconds, last tick
        self.loop_lag_max = 0.0              # seconds, since start
        self.latency_events = {}             # name -> [max_ms, deque([ts, ms])]
        self.latency_threshold_ms = 0
        self.tracking = False
        self.sampler_on = node.config["metricsSampler"]

    # -- latency histograms -----------------------------------------------------------
    def specs(self):
        from ..commands import registry
        n = registry.DECLARED[0]
        if self._specs is None or self._specs[0] != n:
            self._specs = (n, list(registry.all_specs(include_subcommands=True)))
            if self.tracking:
                # commands registered after attach get their counts too
                for spec in self._specs[1]:
                    if spec.hist is None:
                        spec.hist = self.hists.setdefault(spec, [0] * NBUCKETS)
        return self._specs[1]

    def set_tracking(self, on):
        """latency-tracking yes/no: give every command its counts list (kept
        across off/on, as Redis keeps its histograms) or take it away."""
        from ..commands.registry import settle_stats
        settle_stats(self.specs())      # what was counted so far, under the old setting
        self.tracking = bool(on)
        for spec in self.specs():
            if self.tracking:
                h = self.hists.get(spec)
                if h is None:
                    h = self.hists[spec] = [0] * NBUCKETS
                spec.hist = h
            else:
                spec.hist = None

    def reset_stats(self):
        """CONFIG RESETSTAT: histograms restart."""
        for h in self.hists.values():
            h[:] = [0] * len(h)

    def command_histograms(self):
        """[(spec, counts, total)] for every command with samples."""
        from ..commands.registry import settle_stats
        settle_stats(self.specs())
        out = []
        for spec, counts in list(self.hists.items()):
            total = sum(counts)
            if total:
                out.append((spec, counts, total))
        return out

    def total_commands(self):
        """total_commands_processed: the sum of the per-command call counters."""
        from ..commands.registry import settle_stats
        specs = self.specs()
        settle_stats(specs)
        return sum([spec.stats[0] for spec in specs])

    # -- latency monitor ---------------------------------------------------------------
    def add_latency_sample(self, event, ms):
        ms = int(ms)
        now = int(time.time())
        entry = self.latency_events.get(event)
        if entry is None:
            entry = self.latency_events[event] = [0, deque(maxlen=LATENCY_HISTORY)]
        samples = entry[1]
        if samples and samples[-1][0] == now:
            if ms > samples[-1][1]:
                samples[-1][1] = ms
        else:
            samples.append([now, ms])
        if ms > entry[0]:
            entry[0] = ms

    # -- instantaneous metrics -------------------------------------------------------
    def instantaneous(self, name):
        ring = self.rings[name]
        return sum(ring) / SAMPLES

    def _track(self, now):
        s = self.node.stats
        cur = (now, self.total_commands(), s.net_input_bytes, s.net_output_bytes)
        last = self._last
        self._last = cur
        if last is None:
            return
        dt_ms = (now - last[0]) * 1000.0
        if dt_ms <= 0:
            return
        i = self.ring_idx
        # counters may go backwards after CONFIG RESETSTAT
        self.rings["ops"][i] = max(0, cur[1] - last[1]) * 1000.0 / dt_ms
        self.rings["net_in"][i] = max(0, cur[2] - last[2]) * 1000.0 / dt_ms / 1024.0
        self.rings["net_out"][i] = max(0, cur[3] - last[3]) * 1000.0 / dt_ms / 1024.0
        self.ring_idx = (i + 1) % SAMPLES

    def sample_process(self):
        """The once-a-second psutil sample."""
        proc = self.proc
        try:
            with proc.oneshot():
                self.rss = proc.memory_info().rss
                t = proc.cpu_times()
                self.open_files = proc.num_fds()
        except (psutil.Error, OSError):
            return
        now = _perf()
        if self._cpu_last is not None:
            dt = now - self._cpu_last[0]
            if dt > 0:
                self.cpu_percent = 100.0 * ((t.user + t.system) - self._cpu_last[1]) / dt
        self._cpu_last = (now, t.user + t.system)
        self.cpu_user, self.cpu_sys = t.user, t.system
        self.peak_rss = max(self.peak_rss, self.rss)
        self.connections = len(self.node.clients)

    def run(self):
        """The tick greenlet: instantaneous rings, loop lag, process sample."""
        ticks = 0
        self._track(_perf())
        while True:
            due = _perf() + TICK
            gevent.sleep(TICK)
            now = _perf()
            lag = max(0.0, now - due)
            self.loop_lag = lag
            if lag > self.loop_lag_max:
                self.loop_lag_max = lag
            thr = self.latency_threshold_ms
            if thr and lag * 1000 >= thr:
                self.add_latency_sample("event-loop", lag * 1000)
            try:
                self._track(now)
                ticks += 1
                if ticks % 10 == 0 and self.sampler_on:
                    self.sample_process()
            except Exception:
                log.exception("metrics sampler failed")

    # -- memory ----------------------------------------------------------------------------
    def current_rss(self):
        try:
            rss = self.proc.memory_info().rss
        except (psutil.Error, OSError):
            rss = self.rss
        self.rss = rss
        if rss > self.peak_rss:
            self.peak_rss = rss
        return rss


def memory_source(node):
    """"estimate" when a memory subsystem gives used_memory (a dataset
    estimate, as maxmemory counts it), "rss" when used_memory is the RSS."""
    fn = node.__dict__.get("used_memory") if hasattr(node, "__dict__") else None
    if callable(fn) or getattr(getattr(node, "memory", None), "used_memory", None) is not None:
        return "estimate"
    return "rss"


def used_memory(node):
    """Bytes the server counts as used: the memory subsystem's figure when it
    has one (``node.used_memory()`` or ``node.memory.used_memory()``), else
    the process RSS."""
    fn = node.__dict__.get("used_memory") if hasattr(node, "__dict__") else None
    if not callable(fn):
        fn = getattr(getattr(node, "memory", None), "used_memory", None)
    if fn is not None:
        try:
            return int(fn())
        except Exception:
            log.exception("memory.used_memory failed")
    m = getattr(node, "metrics", None)
    if m is not None:
        return m.current_rss()
    return psutil.Process().memory_info().rss


def latency_sample(node, event, ms):
    """Record a timed event (``fork``, ``aof-fsync-always``, ``expire-cycle``
    ...) for LATENCY when the latency monitor is on and ``ms`` reaches
    ``latency-monitor-threshold``.  Safe to call from any subsystem; does
    nothing before the observability subsystem is attached."""
    m = getattr(node, "metrics", None)
    if m is None:
        return
    thr = m.latency_threshold_ms
    if thr and ms >= thr:
        m.add_latency_sample(event, ms)


def attach(node):
    m = Metrics(node)
    node.metrics = m
    conf = node.config
    m.set_tracking(conf["latencyTracking"])
    conf.on_change("latencyTracking", m.set_tracking)

    def set_sampler(v):
        m.sampler_on = bool(v)
    conf.on_change("metricsSampler", set_sampler)
    node.resetstat_hooks.append(m.reset_stats)
    node.start_hooks.append(lambda: node.spawn_background(m.run))
    return m
