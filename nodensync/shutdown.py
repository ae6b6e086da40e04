"""Redis 7.0's shutdown sequence (server.c prepareForShutdown /
finishShutdown, db.c shutdownCommand), for SHUTDOWN and SIGTERM/SIGINT.

* A signal only schedules the shutdown (``asap``); the cron greenlet starts
  it (not while DEBUG PAUSE-CRON holds the cron, so SHUTDOWN ABORT can
  cancel it).  A second SIGINT while one is scheduled or running exits at
  once ("You insist... exiting now.", exit code 1), removing the foreground
  save's temp file.  The handlers are Python signal handlers, so they run
  even while the final save holds the event loop.
* Starting it (SHUTDOWN without NOW, or a signal) on a master whose
  replicas have not acknowledged the whole stream, with ``shutdown-timeout``
  above 0: writes are paused (as CLIENT PAUSE WRITE; CLIENT UNPAUSE does not
  end it) and the cron finishes the shutdown as soon as every replica's ACK
  reached the master's offset, or when the timeout expires; INFO shows
  ``shutdown_in_milliseconds``.  SHUTDOWN callers stay blocked meanwhile.
* Finishing: the lagging replicas are logged, then the persistence's final
  steps (kill children, fsync the AOF, final RDB save); a failure (without
  FORCE) cancels the shutdown: the blocked callers get "Errors trying to
  SHUTDOWN. Check logs.", writes resume, the server keeps running.
* SHUTDOWN ABORT cancels a scheduled or waiting shutdown.
"""
import logging
import os
import signal
import time

import gevent
from gevent.event import AsyncResult, Event

from . import config as cfg

log = logging.getLogger("nodensync.shutdown")

cfg.declare("shutdownTimeout", "int", 10,
            "Seconds a master stopped by SHUTDOWN (without NOW) or SIGTERM/SIGINT waits, "
            "with writes paused, for its replicas to acknowledge the whole replication "
            "stream before the final save and exit (0 = do not wait).",
            redis="shutdown-timeout", mutable=True, minimum=0, maximum=2 ** 31 - 1,
            group="persistence")

NOSAVE, SAVE, NOW, FORCE = 1, 2, 4, 8
ERRORS = "ERR Errors trying to SHUTDOWN. Check logs."

# shutdown-on-sigterm / shutdown-on-sigint: Redis's multi-argument enum, in
# its order (the order CONFIG GET names the flags in).
_SIG_FLAGS = (("default", 0), ("save", SAVE), ("nosave", NOSAVE), ("now", NOW),
              ("force", FORCE))


def parse_sig_flags(text):
    """'nosave now' -> NOSAVE | NOW: words separated by spaces, each one
    of Redis's names (case-insensitive); 'default' adds nothing."""
    words = text.split()
    names = dict(_SIG_FLAGS)
    if not words or any(w.lower() not in names for w in words):
        raise ValueError("argument(s) must be one of the following: "
                         + ", ".join(n for n, _ in _SIG_FLAGS))
    flags = 0
    for w in words:
        flags |= names[w.lower()]
    if flags & SAVE and flags & NOSAVE:
        raise ValueError("shutdown options SAVE and NOSAVE can't be used simultaneously")
    return flags


def format_sig_flags(flags):
    """The flags as CONFIG GET shows them (Redis's configEnumGetName)."""
    if flags == 0:
        return "default"
    return " ".join(n for n, v in _SIG_FLAGS if v and flags & v)


for _sig in ("sigterm", "sigint"):
    cfg.declare("shutdownOn" + _sig.capitalize(), "str", 0,
                "What %s does, as SHUTDOWN's options: 'default' (save if save points are "
                "set, wait for lagging replicas), or any of 'save'/'nosave', 'now' (do not "
                "wait for replicas), 'force' (exit even if the final save fails), separated "
                "by spaces." % _sig.upper(),
                redis="shutdown-on-" + _sig, mutable=True, parser=parse_sig_flags,
                formatter=format_sig_flags, group="persistence")


class Shutdown:
    def __init__(self, node, stopped, exit_code):
        self.node = node
        self.stopped = stopped          # set when the process may exit
        self.exit_code = exit_code
        self.asap = 0                   # the signal that scheduled a shutdown
        self.flags = 0
        self.deadline = None            # monotonic; set while waiting for replicas
        self.waiters = []               # AsyncResults of blocked SHUTDOWN callers
        self.finishing = False
        self.done = False
        self.wake = Event()
        self.held = False

    # -- signals (Python handlers: they run between bytecodes, even in a save)
    def install(self):
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.greenlet = gevent.spawn(self.cron)

    def on_signal(self, signum, frame=None):
        if self.done:
            return
        if signum == signal.SIGINT and (self.asap or self.initiated() or self.finishing):
            log.warning("You insist... exiting now.")
            _remove_temp_rdb(self.node)
            for h in logging.getLogger().handlers:
                try:
                    h.flush()
                except Exception:
                    pass
            os._exit(1)
        if self.node.loading:
            msg = "Received shutdown signal during loading, scheduling shutdown."
        elif signum == signal.SIGINT:
            msg = "Received SIGINT scheduling shutdown..."
        else:
            msg = "Received SIGTERM scheduling shutdown..."
        log.warning(msg)
        self.asap = signum          # (the cron, awake at least every 100 ms, starts it)

    # -- the cron: start a scheduled shutdown, finish a waiting one
    def cron(self):
        while not self.done:
            waiting = self.initiated()
            self.wake.wait(0.01 if waiting else 0.1)
            self.wake.clear()
            if self.finishing:
                continue
            if self.asap and not self.initiated():
                if self.node.cron_paused:
                    continue
                signum, self.asap = self.asap, 0
                # (while loading Redis uses NOSAVE alone, whatever the setting)
                self.prepare(NOSAVE if self.node.loading else self.signal_flags(signum))
            elif self.initiated():
                if time.monotonic() >= self.deadline or self.ready():
                    self.finish()

    def signal_flags(self, signum):
        """SHUTDOWN's flags for a signal: shutdown-on-sigint/-sigterm."""
        name = "shutdownOnSigint" if signum == signal.SIGINT else "shutdownOnSigterm"
        return self.node.config[name]

    def initiated(self):
        return self.deadline is not None

    def info(self):
        if self.deadline is None:
            return []
        return [("shutdown_in_milliseconds", int((self.deadline - time.monotonic()) * 1000))]

    # -- replicas
    def _links(self):
        repl = getattr(self.node, "replication", None)
        if repl is None:
            return None, []
        return repl, [link for link in repl.primary.links if not link.closed]

    def ready(self):
        repl, links = self._links()
        return all(link.ack_off == repl.offset for link in links)

    # -- the sequence
    def prepare(self, flags):
        """Start a shutdown: True when the process is about to exit, False
        when it waits for replicas or failed (then an error was logged)."""
        if self.initiated() or self.finishing or self.done:
            return False
        if self.node.loading:
            flags = (flags & ~SAVE) | NOSAVE
        self.flags = flags
        log.warning("User requested shutdown...")
        stopping = getattr(self.node, "systemd_stopping", None)
        if stopping is not None:
            stopping()
        if not flags & NOW and self.node.config["shutdownTimeout"] and not self.ready():
            self.deadline = time.monotonic() + self.node.config["shutdownTimeout"]
            self._hold_writes(True)
            log.info("Waiting for replicas before shutting down.")
            self.wake.set()
            return False
        return self.finish()

    def finish(self):
        if self.finishing or self.done:
            return False
        self.finishing = True
        node = self.node
        flags = self.flags
        try:
            repl, links = self._links()
            lagging = 0
            for link in links:
                if link.ack_off != repl.offset:
                    lagging += 1
                    lag = int(time.time() - link.ack_time) if link.state == "online" else 0
                    log.warning("Lagging replica %s reported offset %d behind master, "
                                "lag=%d, state=%s.", link.name, repl.offset - link.ack_off,
                                lag, link.info_state())
            if links:
                log.info("%d of %d replicas are in sync when shutting down.",
                         len(links) - lagging, len(links))
            save = True if flags & SAVE else False if flags & NOSAVE else None
            p = getattr(node, "persistence", None)
            if p is not None and not p.final_save(save, force=bool(flags & FORCE)):
                log.warning("Errors trying to shut down the server. Check the logs for "
                            "more information.")
                self.cancel()
                return False
        finally:
            self.finishing = False
        self.done = True
        self.deadline = None
        waiters, self.waiters = self.waiters, []
        for w in waiters:
            w.set(True)
        self._exit(save)
        return True

    def cancel(self):
        self.asap = 0
        self.flags = 0
        self.deadline = None
        waiters, self.waiters = self.waiters, []
        for w in waiters:
            w.set(False)
        self._hold_writes(False)

    def abort(self):
        """SHUTDOWN ABORT: True when a shutdown was scheduled or waiting."""
        if self.initiated():
            self.cancel()
        elif self.asap:
            self.asap = 0
        else:
            return False
        log.info("Shutdown manually aborted.")
        return True

    def _hold_writes(self, on):
        if on == self.held:
            return
        self.held = on
        from .commands.monitoring import PauseState
        state = getattr(self.node, "pause_state", None)
        if state is None:
            state = self.node.pause_state = PauseState(self.node)
        state.hold(on)

    def _exit(self, save):
        """No new connections, the subsystems' shutdown hooks, queued
        replies out, clients closed, then the process exits."""
        node = self.node
        node.shutting_down = True
        try:
            if node.listener is not None:
                node.listener.close()
            if node.unix_listener is not None:
                node.unix_listener.close(unlink=True)
            for hook in node.shutdown_hooks:
                hook(save)
        except Exception:
            log.exception("error during shutdown")
            self.exit_code[0] = 1
        for c in list(node.clients.values()):
            c.wait_drained(1.0)
            c.close()
        for g in node.background:
            g.kill(block=False)
        log.warning("NodeNsync is now ready to exit, bye bye...")
        self.stopped.set()

    # -- SHUTDOWN
    def command(self, flags):
        """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]: True when the server exits,
        False when the shutdown failed or was aborted; meanwhile (waiting for
        replicas, or for a shutdown another caller started) the caller is
        blocked."""
        result = AsyncResult()
        self.waiters.append(result)
        self.prepare(flags)
        if not result.ready() and not (self.initiated() or self.finishing or self.done):
            self.waiters.remove(result)         # (nothing going on: it failed)
            return False
        return result.get()


def _remove_temp_rdb(node):
    directory = node.config["dataDir"]
    try:
        os.unlink(os.path.join(directory, "temp-%d.rdb" % os.getpid()))
    except OSError:
        pass
