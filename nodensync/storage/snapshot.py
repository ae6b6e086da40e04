"""RDB snapshots: SAVE in the process, BGSAVE in a forked child, the save
policy, and the child-process machinery shared with AOF rewrites.

Crash safety: a snapshot is written to ``temp-<pid>.rdb`` in the data
directory, flushed and fsynced, renamed over ``dbfilename`` and the
directory is fsynced; a failed or killed save leaves the previous snapshot
untouched (the parent removes the dead child's temp file).

Forking a Python process: the cyclic garbage collector must not walk (and
so copy) the pages of every object.  The child disables it.  The parent's
collections do not reach the keyspace (its containers are untracked,
storage/acyclic.py) nor what existed once the node had started (frozen
then, cli.py), so they touch few pages while the child runs.  (Freezing
around each fork instead would have to unfreeze after it, putting the
startup objects back in the collector's view.)  The child runs at low CPU
priority (_lower_priority).  The child resets the signals the parent
handles, asks the kernel to kill it if the parent dies (PR_SET_PDEATHSIG),
points every inherited socket at /dev/null (so a killed parent frees its
port at once), writes the file and leaves with ``os._exit``.  The parent
waits for it in a greenlet with gevent's child watcher (``waitpid`` is
cooperative), so the hub never blocks.
"""
import ctypes
import gc
import logging
import mmap
import os
import resource
import signal
import stat
import struct
import time
from collections import deque

import gevent
import gevent.os as gos
from gevent import monkey
from gevent.event import Event

from . import rdb

log = logging.getLogger("nodensync")

_raw_fork = monkey.get_original("os", "fork")
_raw_sleep = monkey.get_original("time", "sleep")
_child_progress = None     # in a save child: a shared counter of the keys written

BGSAVE_RETRY_DELAY = 5          # seconds, Redis's CONFIG_BGSAVE_RETRY_DELAY
_PR_SET_PDEATHSIG = 1


# -- files -------------------------------------------------------------------------
def fsync_dir(path):
    """fsync a directory so a rename in it is durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encoding_limits(config):
    """The compact-encoding settings (Redis names) that are declared, so
    RDB files and DUMP payloads use the encodings the server reports."""
    from .. import config as cfg
    out = {}
    for name in rdb.DEFAULT_LIMITS:
        s = cfg.find(name)
        if s is not None and s.name in config.values:
            try:
                out[name] = int(config.values[s.name])
            except (TypeError, ValueError):
                pass
    return out


def used_memory_estimate():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def write_rdb_file(persistence, path, aof_base=False, key_delay_us=0):
    """Write the whole keyspace to ``path`` through ``temp-<pid>.rdb`` in the
    same directory: write, flush, fsync, rename, fsync the directory.
    Returns the number of bytes written.  Raises OSError/RdbError/
    UnsupportedValue; the temp file is removed on failure."""
    node = persistence.node
    conf = node.config
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, "temp-%d.rdb" % os.getpid())
    delay = None
    if key_delay_us > 0:
        seconds = key_delay_us / 1e6

        def delay_one():
            _raw_sleep(seconds)
        delay = delay_one
    aux = rdb.aux_fields(used_memory_estimate(), aof_base, persistence.extra_aux())
    functions = persistence.functions_to_save()
    try:
        with open(tmp, "wb") as f:
            writer = rdb.RdbWriter(f.write, compress=conf["rdbCompression"],
                                   checksum=conf["rdbChecksum"],
                                   limits=encoding_limits(conf), key_delay=delay)
            if _child_progress is not None:
                shm = _child_progress
                writer.progress = lambda n: struct.pack_into("q", shm, 0, n)
            rdb.write_keyspace(writer, node.keyspace, aux, functions)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(directory)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return writer.bytes_written


# -- child processes ------------------------------------------------------------------
def private_dirty_bytes(pid="self"):
    """Private_Dirty of a process (its copy-on-write cost after a fork)."""
    try:
        with open("/proc/%s/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


# What a child of each kind does, as Redis's log lines name it.
ACTIVITY = {"rdb": "Background saving", "aof": "Background AOF rewrite"}


class Child:
    """A forked child doing an RDB save or an AOF rewrite."""

    def __init__(self, kind, pid, info_fd, started):
        self.kind = kind                 # "rdb" or "aof"
        self.pid = pid
        self.info_fd = info_fd
        self.started = started           # time.monotonic()
        self.killed = False              # killed by us (SIGUSR1): not an error
        self.done = Event()
        self.result = None               # (exit code, signal, info dict)
        self.cow = 0                     # copy-on-write so far (sampled, INFO current_cow_size)
        self.cow_peak = 0
        self.cow_time = started
        self.shm = None                  # the child's count of keys written (shared memory)
        self.keys_total = 0              # keys at the fork (INFO current_save_keys_total)

    def keys_processed(self):
        return struct.unpack_from("q", self.shm, 0)[0] if self.shm is not None else 0


def sched_seconds(pid):
    """(time on a CPU, time runnable but waiting for one) of a process so
    far, in seconds, from /proc/<pid>/schedstat; None if unknown."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            run, wait = f.read().split()[:2]
        return int(run) / 1e9, int(wait) / 1e9
    except (OSError, ValueError):
        return None


def starved(before, after, seconds):
    """Between two sched_seconds() readings ``seconds`` apart: the process
    waited for a CPU most of the time and got under a tenth of one.  (A
    child sleeping, as with rdb-key-save-delay, does not wait.  The kernel
    adds a waiting task's wait to its figure only when the task runs, so
    the readings are compared over a window of several seconds, not one.)"""
    if before is None or after is None:
        return False
    return (after[1] - before[1] > 0.5 * seconds
            and after[0] - before[0] < 0.1 * seconds)


# Seconds a low-priority child may stay starved before the parent gives it
# a normal share of the CPU: long enough for a burst of load to pass
# without a save taking a core from it, short against any save interval.
STARVED_SECONDS = 5


def _sample_cow(child):
    """Once a second while the child runs: its private dirty memory, read in
    the threadpool (smaps_rollup of a big process takes milliseconds); and
    the starvation check of the low-priority child (_lower_priority) over
    the last STARVED_SECONDS."""
    pool = gevent.get_hub().threadpool
    readings = deque([(time.monotonic(), sched_seconds(child.pid))])
    while not child.done.is_set():
        child.done.wait(1.0)
        if child.done.is_set():
            break
        if readings is not None:
            readings.append((time.monotonic(), sched_seconds(child.pid)))
            span = readings[-1][0] - readings[0][0]
            if span >= STARVED_SECONDS:
                if starved(readings[0][1], readings[-1][1], span):
                    readings = None
                    _restore_priority(child)
                else:
                    readings.popleft()
        try:
            cow = pool.spawn(private_dirty_bytes, child.pid).get()
        except Exception:
            continue
        if not child.done.is_set():
            child.cow = cow
            child.cow_peak = max(child.cow_peak, cow)
            child.cow_time = time.monotonic()


def _restore_priority(child):
    """Give a starved child a normal share of the CPU (SCHED_OTHER, nice 0),
    with a log line either way."""
    what = ACTIVITY[child.kind]
    try:
        if os.sched_getscheduler(child.pid) == os.SCHED_IDLE:
            os.sched_setscheduler(child.pid, os.SCHED_OTHER, os.sched_param(0))
        if os.getpriority(os.PRIO_PROCESS, child.pid) > 0:
            os.setpriority(os.PRIO_PROCESS, child.pid, 0)
    except (AttributeError, OSError) as e:
        log.warning("%s child %d starved at low priority for %d s; its priority cannot be "
                    "raised (%s: needs CAP_SYS_NICE or RLIMIT_NICE >= 20, e.g. LimitNICE=20 "
                    "in the systemd unit), so it goes on with a small share of the CPU",
                    what, child.pid, STARVED_SECONDS, getattr(e, "strerror", None) or e)
        return
    log.info("%s child %d starved at low priority for %d s: back to normal priority",
             what, child.pid, STARVED_SECONDS)


def _close_inherited_sockets():
    """In the child: point every inherited socket fd at /dev/null.  The
    listening socket is released at once and no fd number is freed (Python
    objects still own them), so nothing can reuse a number by accident."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for name in names:
            try:
                fd = int(name)
            except ValueError:
                continue
            if fd <= 2 or fd == null:
                continue
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(null, fd)
            except OSError:
                pass
    finally:
        os.close(null)


def _child_setup(parent_pid):
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGUSR1, 0, 0, 0)
    except Exception:
        pass
    if os.getppid() != parent_pid:
        os._exit(1)
    _close_inherited_sockets()
    gc.disable()
    _lower_priority()


def _lower_priority():
    """In the child: run only when a CPU would otherwise be idle
    (SCHED_IDLE), so the snapshot never takes a core from the parent
    serving clients.  Measured on 2 cores with 1,000,000 keys: PING p99.9
    during BGSAVE 4.1-11.4 ms at normal priority, 3.9-4.2 ms with
    SCHED_IDLE, 2.6-6.2 ms with nice 19.  The save takes longer when the
    machine is busy (1.3-2.3 s -> 2.1-3.0 s here); a child starved for
    STARVED_SECONDS on a saturated machine is put back to normal priority
    by the parent (_sample_cow).

    Leaving SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE that allows
    nice 0 (the kernel treats SCHED_IDLE as nice 20): without either -- an
    unprivileged service user, root in a container without CAP_SYS_NICE --
    an idle child would stay starved for good on a saturated machine, so it
    takes nice 19 instead, which always gets a small share of the CPU."""
    try:
        if can_restore_priority():
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(19)
    except (AttributeError, OSError):
        pass


_CAP_SYS_NICE = 23


def can_restore_priority():
    """Whether this process may go back to nice 0 from a lower priority:
    CAP_SYS_NICE in its effective set, or RLIMIT_NICE >= 20."""
    soft = resource.getrlimit(resource.RLIMIT_NICE)[0]
    if soft == resource.RLIM_INFINITY or soft >= 20:
        return True
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_SYS_NICE & 1)
    except (OSError, ValueError):
        pass
    return False


def start_child(persistence, kind, work, on_exit):
    """Fork a child running ``work()`` (its return value, a dict, goes back to
    the parent with the child's copy-on-write figure).  ``on_exit(child)``
    runs in a greenlet of the parent once the child is reaped.  Raises
    OSError when fork fails."""
    node = persistence.node
    parent_pid = os.getpid()
    r, w = os.pipe()
    shm = mmap.mmap(-1, 8)          # (shared with the child: keys written, INFO)
    keys_total = sum(len(db.data) for db in node.keyspace.dbs)
    t0 = time.perf_counter()
    try:
        pid = gos.fork_and_watch(fork=_raw_fork)
    except OSError:
        os.close(r)
        os.close(w)
        raise
    if pid == 0:                                   # the child
        code = 1
        try:
            os.close(r)
            _child_setup(parent_pid)
            for hook in getattr(node, "child_hooks", ()):
                hook()
            title = getattr(node, "proc_title", None)
            if title is not None:
                title.in_child(kind)
            global _child_progress
            _child_progress = shm
            info = work() or {}
            info["cow"] = private_dirty_bytes()
            os.write(w, repr(info).encode())
            code = 0
        except BaseException:
            try:
                log.exception("%s child failed", ACTIVITY[kind])
            except BaseException:
                pass
        finally:
            os._exit(code)
    fork_us = int((time.perf_counter() - t0) * 1e6)
    os.close(w)
    stats = node.stats
    stats.latest_fork_usec = fork_us
    stats.total_forks = getattr(stats, "total_forks", 0) + 1
    _latency(node, "fork", fork_us / 1000.0)
    child = Child(kind, pid, r, time.monotonic())
    child.shm = shm
    child.keys_total = keys_total
    persistence.child = child
    gevent.spawn(_reap, persistence, child, on_exit)
    gevent.spawn(_sample_cow, child)
    return child


def _latency(node, event, ms):
    try:
        from ..observability.metrics import latency_sample
    except Exception:
        return
    try:
        latency_sample(node, event, ms)
    except Exception:
        pass


def _reap(persistence, child, on_exit):
    status = None
    try:
        _, status = gos.waitpid(child.pid, 0)
    except ChildProcessError:
        status = None
    except BaseException:
        log.exception("waiting for child %d failed", child.pid)
    info = {}
    try:
        data = b""
        os.set_blocking(child.info_fd, False)
        while True:
            try:
                chunk = os.read(child.info_fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        if data:
            import ast
            info = ast.literal_eval(data.decode())
    except Exception:
        info = {}
    finally:
        try:
            os.close(child.info_fd)
        except OSError:
            pass
    if status is None:
        code, sig = 1, 0
    elif os.WIFSIGNALED(status):
        code, sig = 0, os.WTERMSIG(status)
    else:
        code, sig = os.WEXITSTATUS(status), 0
    child.result = (code, sig, info)
    if persistence.child is child:
        persistence.child = None
    try:
        on_exit(child)
    except Exception:
        log.exception("handling the end of child %d failed", child.pid)
    finally:
        child.done.set()


# -- RDB snapshots ----------------------------------------------------------------------
class Snapshots:
    """SAVE, BGSAVE, the save policy and their INFO figures."""

    def __init__(self, persistence):
        self.p = persistence
        self.node = persistence.node
        now = time.time()
        self.lastsave = int(now)
        self.dirty_at_save = 0
        self.dirty_at_fork = 0
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0.0
        self.last_bgsave_time_sec = -1
        self.saves = 0
        self.last_cow = 0
        self.scheduled = False
        self.done_hooks = []          # fn(ok) after every BGSAVE (replication)

    # -- paths / figures
    def path(self):
        return os.path.join(self.p.data_dir(), self.node.config["dbFilename"])

    def changes(self):
        return self.node.keyspace.dirty - self.dirty_at_save

    def in_progress(self):
        c = self.p.child
        return c is not None and c.kind == "rdb"

    def has_save_points(self):
        conf = self.node.config
        return bool(conf["save"]) or conf["snapshotInterval"] > 0

    # -- SAVE
    def save(self, reason="SAVE"):
        """Foreground save; True on success (errors are logged)."""
        started = time.monotonic()
        dirty = self.node.keyspace.dirty
        try:
            # (rdb-key-save-delay applies here too, as in Redis's rdbSaveRio:
            # the process sleeps, as Redis's does)
            size = write_rdb_file(self.p, self.path(),
                                  key_delay_us=self.node.config["rdbKeySaveDelay"])
        except (OSError, rdb.RdbError, rdb.UnsupportedValue) as e:
            log.warning("Write error saving DB on disk: %s", _err_text(e))
            return False
        self.dirty_at_save = dirty
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.saves += 1
        self.p.refresh_guard()
        log.info("DB saved on disk (%s, %d bytes, %.3f seconds)", reason, size,
                 time.monotonic() - started)
        return True

    # -- BGSAVE
    def bgsave(self, reason="BGSAVE"):
        """Fork a child writing the snapshot.  Returns True when started;
        False (logged) when fork failed."""
        node = self.node
        self.dirty_at_fork = node.keyspace.dirty
        self.last_bgsave_try = time.time()
        path = self.path()
        delay = node.config["rdbKeySaveDelay"]
        p = self.p

        def work():
            size = write_rdb_file(p, path, key_delay_us=delay)
            log.info("DB saved on disk")
            return {"size": size}
        try:
            child = start_child(p, "rdb", work, self._child_done)
        except OSError as e:
            self.last_bgsave_ok = False
            p.refresh_guard()
            log.warning("Can't save in background: fork: %s", e.strerror)
            return False
        log.info("Background saving started by pid %d (%s)", child.pid, reason)
        return True

    def _child_done(self, child):
        code, sig, info = child.result
        elapsed = time.monotonic() - child.started
        self.last_bgsave_time_sec = int(elapsed)
        ok = False
        if sig == 0 and code == 0:
            ok = True
            self.dirty_at_save = self.dirty_at_fork
            self.lastsave = int(time.time())
            self.last_bgsave_ok = True
            self.saves += 1
            self.last_cow = int(info.get("cow", 0))
            log.info("Background saving terminated with success")
        elif sig:
            remove_temp_file(self.p.data_dir(), "temp-%d.rdb" % child.pid)
            if sig != signal.SIGUSR1 and not child.killed:
                self.last_bgsave_ok = False
            log.warning("Background saving terminated by signal %d", sig)
        else:
            self.last_bgsave_ok = False
            remove_temp_file(self.p.data_dir(), "temp-%d.rdb" % child.pid)
            log.warning("Background saving error")
        self.p.refresh_guard()
        for fn in list(self.done_hooks):
            try:
                fn(ok)
            except Exception:
                log.exception("BGSAVE completion hook failed")

    # -- policy (called by the persistence cron when no child runs)
    def due(self, now):
        """A reason string when a save point or the snapshot interval says
        it is time for a BGSAVE, else None."""
        changes = self.changes()
        if changes <= 0:
            return None
        if not self.last_bgsave_ok and now - self.last_bgsave_try <= BGSAVE_RETRY_DELAY:
            return None
        elapsed = now - self.lastsave
        for seconds, count in self.node.config["save"]:
            if changes >= count and elapsed > seconds:
                log.info("%d changes in %d seconds. Saving...", count, seconds)
                return "save point %d %d" % (seconds, count)
        interval = self.node.config["snapshotInterval"]
        if interval > 0 and elapsed >= interval:
            log.info("%d changes since the last snapshot %d seconds ago. Saving...",
                     changes, int(elapsed))
            return "snapshotInterval %d" % interval
        return None


def remove_temp_file(directory, name):
    try:
        os.unlink(os.path.join(directory, name))
    except OSError:
        pass


def _err_text(e):
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)
