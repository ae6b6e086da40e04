"""Observability and operations subsystem: INFO figures, the metrics sampler
and per-command latency histograms, SLOWLOG / LATENCY settings, the
Prometheus / health HTTP endpoint, systemd notification and the JSON log
format.

``attach(node)`` installs, in order:

* ``node.metrics`` (metrics.Metrics): 100 ms tick (instantaneous ops/kbps,
  event-loop lag), 1 s psutil sample, latency histograms (a command
  listener, only while ``latency-tracking`` or the latency monitor is on);
* the slow log / latency monitor settings (commands/monitoring.setup);
* ``node.systemd`` (systemd.Notifier): READY/STOPPING/WATCHDOG/STATUS;
* the HTTP endpoint when ``--metricsAddr`` is set (http.py).

Other subsystems report timed events with
``nodensync.observability.metrics.latency_sample(node, "fork", ms)``.
"""
import json
import logging
import os
import time

from .. import config as cfg
from . import info, metrics, http, systemd  # noqa: F401  (settings declared on import)

cfg.declare("logFormat", "enum", "redis",
            "Log line format: 'redis' (pid:role date level message, as Redis) or 'json' "
            "(one JSON object per line).", choices=["redis", "json"], group="logging")

_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "notice", logging.WARNING: "warning",
                logging.ERROR: "error", logging.CRITICAL: "critical"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601 with ms), pid, role,
    level, logger, message (and exc for tracebacks).  Messages are the same
    text the Redis format carries, so no secret is added here."""

    role = "M"

    def format(self, record):
        t = time.gmtime(record.created)
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % record.msecs,
            "pid": os.getpid(),
            "role": self.role,
            "level": _LEVEL_NAMES.get(record.levelno, record.levelname.lower()),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def make_formatter(config, default):
    """The log formatter for ``--logFormat`` (``default`` is cli's Redis-style one)."""
    if config.values.get("logFormat") == "json":
        return JsonFormatter()
    return default


def attach(node):
    metrics.attach(node)
    from ..commands import monitoring
    monitoring.setup(node)
    systemd.attach(node)
    http.attach(node)
