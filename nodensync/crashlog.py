"""Crash report, as Redis's sigsegvHandler writes one (crash-log-enabled).

* SIGABRT (sent by another process, or os.abort in DEBUG PANIC): a Python
  handler logs Redis's "crashed by signal" line and the Python stack where
  the signal arrived, then dies of the signal with the default action (the
  exit status and a core dump are the signal's).  An abort() inside C code
  dies without the report (Python runs its handlers between bytecodes).
* SIGSEGV, SIGBUS, SIGFPE, SIGILL: Python's faulthandler writes every
  thread's Python stack to the log and dies of the signal; it works for a
  fault in C code too.  DEBUG SEGFAULT logs the report lines first.
"""
import faulthandler
import logging
import os
import signal
import sys
import traceback

from . import config as cfg

log = logging.getLogger("nodensync")

cfg.declare("crashLogEnabled", "bool", True,
            "On a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) write a crash report (the "
            "'crashed by signal' line and the Python stacks) to the log before dying.",
            redis="crash-log-enabled", mutable=True, group="general")

_FAULTS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL)
_state = {"node": None}


def _stream():
    for h in logging.getLogger().handlers:
        stream = getattr(h, "stream", None)
        if stream is not None and hasattr(stream, "fileno"):
            try:
                stream.fileno()
                return stream
            except (OSError, ValueError):
                continue
    return sys.stderr


def report(signum, frame=None, reason=None):
    """Redis's bug-report lines for ``signum`` (the stack of ``frame``)."""
    node = _state["node"]
    version = node.version if node is not None else "?"
    redis_version = node.redis_version if node is not None else "?"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = str(signum)
    log.warning("\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===")
    log.warning("NodeNsync %s (Redis %s compatible) crashed by signal: %d (%s)%s",
                version, redis_version, signum, name, "; " + reason if reason else "")
    if frame is not None:
        log.warning("------ STACK TRACE ------\n%s",
                    "".join(traceback.format_stack(frame)).rstrip())
    log.warning("\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n")
    for h in logging.getLogger().handlers:
        try:
            h.flush()
        except Exception:
            pass


def _on_abort(signum, frame):
    report(signum, frame)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install(node=None):
    """(Re)install the handlers for the current log stream and setting."""
    if node is not None:
        _state["node"] = node
        node.config.on_change("crashLogEnabled", lambda v: install())
    enabled = _state["node"] is None or _state["node"].config["crashLogEnabled"]
    if enabled:
        faulthandler.enable(file=_stream(), all_threads=True)
        signal.signal(signal.SIGABRT, _on_abort)     # (faulthandler's, replaced)
    else:
        faulthandler.disable()
        signal.signal(signal.SIGABRT, signal.SIG_DFL)
        for s in _FAULTS:
            signal.signal(s, signal.SIG_DFL)


def enabled():
    node = _state["node"]
    return node is not None and node.config["crashLogEnabled"]
