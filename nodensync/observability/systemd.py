"""systemd service notification (sd_notify), without libsystemd.

When the process runs under systemd with ``Type=notify`` the environment
has ``NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for the abstract
namespace).  Messages are newline-separated ``VAR=value`` datagrams:

* ``READY=1`` (+ ``STATUS=`` and ``MAINPID=``) once the listener serves and
  the data set is loaded (``node.loading`` false); while loading,
  ``STATUS=Loading the data set`` and ``EXTEND_TIMEOUT_USEC`` keep systemd's
  start timeout from firing on a big data set;
* ``STOPPING=1`` first thing at shutdown;
* ``WATCHDOG=1`` every ``WATCHDOG_USEC / 2`` when systemd set ``WatchdogSec``
  (and ``WATCHDOG_PID``, if set, is this process) -- sent from the event
  loop, so a stalled loop misses it and systemd restarts the service;
* ``RELOADING=1`` / ``READY=1`` around a SIGHUP reload.

``supervised`` (Redis's setting): ``auto`` (default here) notifies when
``NOTIFY_SOCKET`` is set, ``systemd`` too, ``no`` never does.
"""
import logging
import os
import socket
import time

import gevent

from .. import config as cfg

log = logging.getLogger("nodensync")

cfg.declare("supervised", "enum", "auto",
            "Supervision: 'auto' or 'systemd' send sd_notify messages (READY, STOPPING, "
            "WATCHDOG) when NOTIFY_SOCKET is set; 'no' never does.",
            redis="supervised", choices=["no", "auto", "systemd", "upstart"], group="general")


class Notifier:
    def __init__(self, address=None):
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self.address = address
        if address.startswith("@"):
            address = "\0" + address[1:]
        self._addr = address
        self.enabled = bool(address)
        self.sock = None
        self.ready_sent = False
        self.watchdog_interval = self._watchdog_interval()

    @staticmethod
    def _watchdog_interval():
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec:
            return None
        pid = os.environ.get("WATCHDOG_PID")
        if pid and pid.strip() != str(os.getpid()):
            return None
        try:
            usec = int(usec)
        except ValueError:
            return None
        return usec / 2e6 if usec > 0 else None

    def notify(self, *lines):
        """Send one datagram; never raises (systemd may be gone)."""
        if not self.enabled:
            return False
        try:
            if self.sock is None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self.sock.setblocking(False)
            self.sock.sendto("\n".join(lines).encode(), self._addr)
            return True
        except OSError as e:
            log.debug("sd_notify failed: %s", e)
            return False

    def watchdog_loop(self):
        while True:
            self.notify("WATCHDOG=1")
            gevent.sleep(self.watchdog_interval)


def attach(node):
    mode = node.config["supervised"]
    n = Notifier() if mode in ("auto", "systemd") else Notifier("")
    node.systemd = n
    # as sd_notify(unset_environment=1): processes we start (snapshot
    # children, scripts) must not talk to systemd in our name
    for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        os.environ.pop(var, None)
    if not n.enabled:
        if mode == "systemd":
            log.warning("supervised systemd: NOTIFY_SOCKET is not set, not notifying.")
        return
    log.info("Supervised by systemd. Please make sure you set appropriate values for "
             "TimeoutStartSec and TimeoutStopSec in your service unit.")

    state = {"started": False}

    def announce_ready():
        """From attach on (so that a long load in a start hook keeps
        extending systemd's start timeout) until READY=1: sent once every
        start hook has run (the listener serves) and nothing is loading."""
        last = 0.0
        while not node.shutting_down:
            if node.loading:
                now = time.monotonic()
                if now - last >= 5.0:
                    n.notify("STATUS=Loading the data set", "EXTEND_TIMEOUT_USEC=%d" % 30000000)
                    last = now
            elif state["started"] and node.listener is not None:
                break
            gevent.sleep(0.05)
        if node.shutting_down:
            return
        n.notify("READY=1", "STATUS=Ready to accept connections", "MAINPID=%d" % os.getpid())
        n.ready_sent = True
        log.info("systemd: READY=1 sent")

    def mark_started():
        state["started"] = True

    def start():
        # runs after every start hook registered so far (the list grows while
        # cli iterates it)
        node.start_hooks.append(mark_started)
        if n.watchdog_interval:
            node.spawn_background(n.watchdog_loop)

    node.spawn_background(announce_ready)

    def stopping(save=None):
        n.notify("STOPPING=1", "STATUS=Shutting down")

    def reloading_begin():
        if n.ready_sent:
            n.notify("RELOADING=1", "MONOTONIC_USEC=%d" % int(time.monotonic() * 1e6),
                     "STATUS=Reloading")

    def reloading_end():
        if n.ready_sent:
            n.notify("READY=1", "STATUS=Ready to accept connections")

    node.start_hooks.append(start)
    node.shutdown_hooks.insert(0, stopping)
    node.systemd_stopping = stopping    # (shutdown.py: when the shutdown begins, as Redis)
    hooks = getattr(node, "reload_hooks", None)
    if hooks is not None:
        hooks.insert(0, reloading_begin)
        # READY after every other hook: appended at start time, when all
        # subsystems have registered theirs.
        node.start_hooks.append(lambda: hooks.append(reloading_end))
