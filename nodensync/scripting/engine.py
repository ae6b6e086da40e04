"""The Lua engine: one sandboxed Lua 5.1 state (lupa.lua51), the run
context of the script being executed and the path by which a script's
``redis.call`` reaches the command table.

The Lua side lives in ``sandbox.lua``: read-only globals, the ``redis``
table, RESP <-> Lua conversion (done in Lua, on the RESP bytes, exactly as
Redis converts a fake client's reply) and the error handler that places an
error on the user's line.  This module is the Python side: it runs the
commands a script calls through the same checks as a client's commands
(lookup + arity, NOSCRIPT, ACL of the calling user, read-only scripts,
replica/MISCONF, OOM, cluster slots), on the calling client and its
database, and collects what they propagate.

A script runs to completion on the calling greenlet: nothing in here
switches greenlets (the run sets ``client.in_exec`` so paced commands such
as KEYS work in one go, and ``client.in_script`` so blocking commands
answer as their non-blocking form).
"""
import hashlib
import logging
import os
import time

import gevent
import lupa.lua51 as lua51

from .. import REDIS_VERSION
from ..commands import dispatch
from ..commands.registry import (LOOKUP, lookup, NOSCRIPT, WRITE, DENYOOM, STALE, ALLOW_BUSY,
                                 MAY_REPLICATE)
from ..errors import CommandError
from ..protocol.resp import encode, encode_error, NO_REPLY
from ..storage.keyspace import freeze_time, thaw_time
from . import libs

log = logging.getLogger("nodensync")

with open(os.path.join(os.path.dirname(__file__), "sandbox.lua"), "rb") as _f:
    SANDBOX = _f.read()

# Shebang flags (Redis's SCRIPT_FLAG_*).
NO_WRITES = 1
ALLOW_OOM = 2
ALLOW_STALE = 4
NO_CLUSTER = 8
ALLOW_CROSS_SLOT = 16
EVAL_COMPAT = 32        # an EVAL body without a shebang line
FLAG_NAMES = {b"no-writes": NO_WRITES, b"allow-oom": ALLOW_OOM, b"allow-stale": ALLOW_STALE,
              b"no-cluster": NO_CLUSTER, b"allow-cross-slot-keys": ALLOW_CROSS_SLOT}

REPL_AOF = 1
REPL_REPLICA = 2
REPL_ALL = 3

_UNKNOWN = b"-ERR Unknown Redis command called from script\r\n"
_ARITY = b"-ERR Wrong number of args calling Redis command from script\r\n"
_NOSCRIPT = b"-ERR This Redis command is not allowed from script\r\n"
_RO_SCRIPT = b"-ERR Write commands are not allowed from read-only scripts.\r\n"
_READONLY = b"-READONLY You can't write against a read only replica.\r\n"
_OOM = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
_CLUSTER = b"-ERR Script attempted to access a non local key in a cluster node\r\n"
_ACL = {"command": b"-ERR The user executing the script can't run this command or subcommand\r\n",
        "keys": b"-ERR The user executing the script can't access at least one of the keys "
                b"mentioned in the command arguments\r\n",
        "channels": b"-ERR The user executing the script can't publish to the channel "
                    b"mentioned in the command\r\n"}
_ACL_OTHER = b"-ERR The user executing the script is lacking the permissions for the command\r\n"

_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)


def sha1hex(body):
    return hashlib.sha1(body).hexdigest().encode()


def _version_num(version):
    major, minor, patch = (int(x) for x in version.split("."))
    return (major << 16) | (minor << 8) | patch


class Rand48:
    """Redis's redisLrand48/redisSrand48 (rand.c: the 48-bit LCG of
    lrand48) that scripts' math.random draws from: one generator for the
    process, every Lua state, never reseeded but by math.randomseed (as
    redis-server 7.0: its first draw after start is always the same)."""
    __slots__ = ("x",)
    _MAX = 2 ** 31 - 1

    def __init__(self):
        self.x = 0x1234ABCD330E

    def seed(self, value):
        value = int(value) & 0xFFFFFFFF
        self.x = ((value << 16) | 0x330E) & 0xFFFFFFFFFFFF

    def random(self):
        self.x = (0x5DEECE66D * self.x + 0xB) & 0xFFFFFFFFFFFF
        return ((self.x >> 17) % self._MAX) / self._MAX


RAND = Rand48()


class ScriptRun:
    """What one running script needs: the caller, its flags, the RESP
    version of redis.call replies, replication flags and the writes to
    propagate when it ends."""
    __slots__ = ("client", "readonly", "allow_oom", "oom_at_start", "resp3", "repl",
                 "write_dirty", "captured", "started", "eval_mode", "name", "killed",
                 "command_name", "timed_out", "kill_raised")

    def __init__(self, client, flags, ro, eval_mode, name, command_name):
        self.client = client
        compat = flags & EVAL_COMPAT
        self.readonly = bool(ro or (not compat and flags & NO_WRITES))
        self.allow_oom = bool(not compat and flags & ALLOW_OOM)
        self.oom_at_start = False
        self.resp3 = False
        self.repl = REPL_ALL
        self.write_dirty = False
        self.captured = None
        self.started = time.monotonic()
        self.eval_mode = eval_mode
        self.name = name
        self.command_name = command_name
        self.killed = False
        self.kill_raised = False         # (the kill error raised once: see _busy_hook)
        self.timed_out = False


def _command_argv(args):
    """redis.call's arguments as a command's argv (numbers as Lua's %.17g
    text), or None when one is neither a string nor a number."""
    argv = []
    for a in args:
        t = type(a)
        if t is bytes:
            argv.append(a)
        elif t is int or t is float:
            argv.append(b"%.17g" % a)
        else:
            return None
    return argv


class LuaRaise(Exception):
    """Raised by a Python callback to raise ``table`` as the Lua error."""

    def __init__(self, table):
        super().__init__("lua error")
        self.table = table


def _lua_number_text(n):
    """Lua 5.1's tostring of a number (%.14g)."""
    n = float(n)
    if n != n:
        return b"nan"
    if n in (float("inf"), float("-inf")):
        return b"inf" if n > 0 else b"-inf"
    return b"%.14g" % n


def _lua_tonumber(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, bytes):
        try:
            return float(v.strip())
        except ValueError:
            try:
                return float(int(v.strip(), 16))
            except ValueError:
                return None
    return None


class LuaEngine:
    """One Lua state: EVAL scripts share one, functions have their own (as
    in Redis)."""

    def __init__(self, node, extra_api=None):
        self.node = node
        self.lua = lua51.LuaRuntime(encoding=None, register_eval=False,
                                    register_builtins=False, unpack_returned_tuples=True)
        self.rand = RAND
        self.run = None
        self.counted = False        # the last redis.call's error is in the stats already
        self.failed = False         # ... and came from the command itself, not a refusal
        callbacks = {
            b"call": lambda *argv: self._call(True, argv),
            b"pcall": lambda *argv: self._call(False, argv),
            b"sha1hex": self._sha1hex,
            b"log": self._log,
            b"setresp": self._setresp,
            b"acl_check_cmd": self._acl_check_cmd,
            b"set_repl": self._set_repl,
            b"unwrap": self._unwrap,
            b"busy_hook": self._busy_hook,
            b"mono_ms": lambda: time.monotonic() * 1000.0,
            b"script_resp3": lambda: self.run is not None and self.run.resp3,
            b"random": self.rand.random,
            b"srand": self.rand.seed,
            b"version": REDIS_VERSION.encode(),
            b"version_num": _version_num(REDIS_VERSION),
            b"libs": self.lua.table_from(libs.build(self.lua)),
        }
        if extra_api:
            callbacks.update(extra_api)
        self.api = self.lua.execute(SANDBOX, self.lua.table_from(callbacks), name="=nodensync")
        self._compile = self.api[b"compile"]
        self._run = self.api[b"run"]
        self._parse = self.api[b"parse"]
        self._error_table = self.api[b"lua_error_reply"]
        self.table_from = self.lua.table_from

    # -- callbacks from Lua --------------------------------------------------------------
    def raise_error(self, message):
        """Raise a Lua error {err="ERR <message>"} (luaPushError + luaError)
        from a Python callback."""
        raise LuaRaise(self._error_table(message.encode()))

    def _unwrap(self, exc):
        """The Lua error value of a Python callback's exception, and whether
        the script's position goes before it (a library's luaL_error)."""
        if isinstance(exc, LuaRaise):
            return exc.table, False
        if isinstance(exc, libs.LibError):
            return exc.message, True
        log.error("unexpected error in a scripting callback: %r", exc)
        return self._error_table(b"internal error in a scripting callback (see the server log)"), False

    def _busy_hook(self, in_sandbox=False):
        """Every HOOK_INSTRUCTIONS Lua instructions: past busy-reply-threshold
        the script lets other clients be served (they get -BUSY but for the
        allow-busy commands: SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN
        NOSAVE ...); a killed script stops here."""
        run = self.run
        if run is None:
            return
        node = self.node
        if not run.timed_out:
            threshold = node.config.values.get("busyReplyThreshold", 5000)
            elapsed = (time.monotonic() - run.started) * 1000
            if threshold <= 0 or elapsed < threshold:
                return
            log.warning("Slow script detected: still in execution after %d milliseconds. You "
                        "can try killing the script using the %s command.", elapsed,
                        "SCRIPT KILL" if run.eval_mode else "FUNCTION KILL")
            run.timed_out = True
            node.busy_check = _busy_refusal(run)
            node.set_gate_all(True, "busy-script")
        gevent.sleep(0)
        if run.killed:
            # Raised again at every new line of the script's own code (a
            # pcall that caught it does not keep the script alive), not in
            # the sandbox's error handler once raised (Redis's line hook).
            if in_sandbox and run.kill_raised:
                return
            run.kill_raised = True
            self.api[b"kill_hook"]()
            raise LuaRaise(self._error_table(b"Script killed by user with SCRIPT KILL..."))

    def _sha1hex(self, *args):
        if len(args) != 1:
            self.raise_error("wrong number of arguments")
        s = args[0]
        if isinstance(s, (int, float)) and not isinstance(s, bool):
            s = _lua_number_text(s)
        elif not isinstance(s, bytes):
            s = b""
        return sha1hex(s)

    def _log(self, *args):
        if len(args) < 2:
            self.raise_error("redis.log() requires two arguments or more.")
        level = args[0]
        if isinstance(level, bool) or not isinstance(level, (int, float)):
            self.raise_error("First argument must be a number (log level).")
        if not 0 <= level <= 3:
            self.raise_error("Invalid debug level.")
        parts = []
        for a in args[1:]:
            if isinstance(a, bytes):
                parts.append(a)
            elif isinstance(a, (int, float)) and not isinstance(a, bool):
                parts.append(_lua_number_text(a))
        log.log(_LOG_LEVELS[int(level)], "%s", b" ".join(parts).decode("utf-8", "replace"))

    def _setresp(self, *args):
        if len(args) != 1:
            self.raise_error("redis.setresp() requires one argument.")
        v = _lua_tonumber(args[0])
        if v not in (2, 3):
            self.raise_error("RESP version must be 2 or 3.")
        self.run.resp3 = v == 3

    def _acl_check_cmd(self, *args):
        """redis.acl_check_cmd(cmd, args...): may the script's user run it
        (Redis's luaRedisAclCheckCmdPermissionsCommand)?"""
        if self.run is None:
            self.raise_error("redis.acl_check_cmd can only be called inside a script invocation")
        if not args:
            self.raise_error("Please specify at least one argument for this redis lib call")
        argv = _command_argv(args)
        if argv is None:
            self.raise_error("Lua redis lib command arguments must be strings or integers")
        spec = LOOKUP.get(argv[0]) or lookup(argv[0])
        if spec is not None and spec.subcommands is not None:
            spec = spec.subcommands.get(argv[1].lower().decode("utf-8", "replace")) \
                if len(argv) > 1 else None
        if spec is None:
            self.raise_error("Invalid command passed to redis.acl_check_cmd()")
        client = self.run.client
        acl = self.node.acl
        if acl is None or not client.acl_restricted:
            return True
        try:
            acl.check(client, spec, argv)
        except CommandError:
            return False
        return True

    def _set_repl(self, *args):
        if len(args) != 1:
            self.raise_error("redis.set_repl() requires two arguments.")
        v = _lua_tonumber(args[0])
        if v is None or v != int(v) or int(v) & ~REPL_ALL:
            self.raise_error("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or "
                             "REPL_NONE.")
        self.run.repl = int(v)

    def _call(self, raise_, args):
        """redis.call / redis.pcall: the command's reply as a Lua value; for
        redis.call an error reply is raised."""
        self.counted = False
        if not args:
            reply = b"-ERR Please specify at least one argument for this redis lib call\r\n"
        else:
            argv = _command_argv(args)
            if argv is None:
                reply = b"-ERR Lua redis lib command arguments must be strings or integers\r\n"
            else:
                reply = self._command(argv)
        value = self._parse(reply)
        if reply[:1] == b"-":
            if self.counted:
                # Counted in the stats where it happened: the script's reply
                # does not count it again (Redis marks the table the same way).
                value[b"ignore_error_stats_update"] = True
            if raise_:
                raise LuaRaise(value)
        return value

    def _command(self, argv):
        """One command of a script: its reply as RESP bytes, or an error
        reply (scriptCall's checks, in its order)."""
        self.counted = False
        run = self.run
        if run is None:
            return b"-ERR redis.call/pcall can only be called inside a script invocation\r\n"
        client = run.client
        node = self.node
        spec = LOOKUP.get(argv[0]) or lookup(argv[0])
        if spec is None:
            return _UNKNOWN
        argc = len(argv)
        if spec.subcommands is not None:
            if argc >= 2:
                sub = spec.subcommands.get(argv[1].lower().decode("utf-8", "replace"))
                if sub is None:
                    return _UNKNOWN
                spec = sub
                args = argv[2:]
            else:
                args = ()
        else:
            args = argv[1:]
        self.failed = False
        reply = self._script_call(run, client, node, spec, argv, args)
        self.counted = counted = reply[:1] == b"-"
        if counted:
            # scriptCall's error path: every error of a command that was
            # looked up is in errorstats; a refusal is the command's
            # rejected call (a failure was counted as failed by the call).
            node.stats.error(reply[1:reply.find(b"\r\n")].decode("utf-8", "replace"))
            if not self.failed:
                spec.stats[2] += 1
        return reply

    def _script_call(self, run, client, node, spec, argv, args):
        if not spec.check_arity(len(argv)):
            return _ARITY
        flags = spec.flags
        if flags & NOSCRIPT and not node.script_disable_deny:
            return _NOSCRIPT
        if not flags & STALE:
            stale_check = getattr(node, "stale_check", None)
            if stale_check is not None:
                try:
                    stale_check(client, spec)
                except CommandError:
                    return b"-ERR Can not execute the command on a stale replica\r\n"
        if client.acl_restricted and node.acl is not None:
            try:
                node.acl.check(client, spec, argv)
            except CommandError as e:
                for word, reply in _ACL.items():
                    if word in e.message:
                        return reply
                return _ACL_OTHER
        # (a may-replicate command counts as a write for a read-only script,
        # as Redis's scriptVerifyWriteCommandAllow: PUBLISH ...)
        if run.readonly and flags & (WRITE | MAY_REPLICATE):
            return _RO_SCRIPT
        if flags & WRITE:
            if node.replica_read_only and not client.is_master and client.kind != "aof":
                return _READONLY
            if node.write_guard is not None:
                try:
                    node.write_guard(client, spec)
                except CommandError as e:
                    return encode_error(e.message)
        if (flags & DENYOOM and run.oom_at_start and not run.allow_oom
                and not run.write_dirty and not client.is_master and client.kind != "aof"):
            return _OOM
        if flags & WRITE:
            run.write_dirty = True
        if node.cluster is not None and not client.is_master and client.kind != "aof":
            try:
                node.cluster.route(client, spec, list(argv))
            except CommandError:
                return _CLUSTER
        resp3 = client.resp3
        client.resp3 = run.resp3
        try:
            result = dispatch.call(client, spec, list(argv), args)
        except CommandError as e:
            self.failed = True
            return encode_error(e.message)
        except Exception:
            log.exception("command %r failed inside a script", argv[:1])
            return b"-ERR internal error while executing the command (see the server log)\r\n"
        finally:
            client.resp3 = resp3
        if result is NO_REPLY:
            return b"$-1\r\n"
        return encode(result, run.resp3)

    # -- compiling and running -----------------------------------------------------------
    def compile(self, body, chunkname=b"@user_script"):
        """The Lua function of ``body``; CommandError with Lua's message."""
        fn, err = self._compile(body, chunkname)
        if fn is None:
            raise CommandError(err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err))
        return fn

    def execute(self, run, fn, keys, argv, caller=None):
        """Run ``fn`` (a compiled script, or a function: caller = the Lua
        call wrapper) for ``run``; the reply as Raw RESP bytes for the
        client, or CommandError."""
        client = run.client
        node = self.node
        saved = (client.db, client.cmd, client.in_exec, client.in_script, client.script_keys)
        client.in_exec = True
        client.in_script = True
        client.script_keys = keys           # (client tracking remembers these)
        propagators = node.propagators
        if propagators:
            run.captured = []
            node.propagators = [lambda dbid, argvs: run.captured.append((dbid, argvs, run.repl))]
        frozen = freeze_time()
        self.run = run
        node.script_run = run
        try:
            keys_t = self.table_from(list(keys))
            argv_t = self.table_from(list(argv))
            if caller is None:
                res = self._run(fn, keys_t, argv_t, client.resp3)
            else:
                res = caller(fn, keys_t, argv_t, client.resp3)
        finally:
            self.run = None
            node.script_run = None
            if run.timed_out:
                node.busy_check = None
                node.set_gate_all(False, "busy-script")
            thaw_time(frozen)
            node.propagators = propagators
            client.db, client.cmd, client.in_exec, client.in_script, client.script_keys = saved
            if run.captured:
                propagate_captured(node, run.captured, client)
        return res


_BUSY_EVAL = ("BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
              "SHUTDOWN NOSAVE.")
_BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                  "SHUTDOWN NOSAVE.")


def _busy_refusal(run):
    """dispatch's check while ``run`` is past busy-reply-threshold."""
    message = _BUSY_EVAL if run.eval_mode else _BUSY_FUNCTION

    def check(client, spec):
        # (the master's stream is applied, not refused: a refused write would
        # be lost; Redis holds it back until the script ends)
        if not spec.flags & ALLOW_BUSY and client is not run.client and not client.is_master:
            raise CommandError(message)
    return check


def propagate_captured(node, captured, client):
    """A script's writes go on as Redis 7 propagates script effects: alone
    when there is one, else in MULTI/EXEC (inside an EXEC, as part of the
    outer transaction); ``redis.set_repl`` may keep some from the AOF or
    the replicas."""
    from ..commands.transactions import _propagate_block
    if client.in_exec and node.propagators is not node._propagators:
        # (inside EXEC: the transaction wraps them)
        for dbid, argvs, repl in captured:
            if repl:
                node.propagate(dbid, argvs)
        return
    targets = node.propagators
    if all(repl == REPL_ALL for _, _, repl in captured):
        blocks = [(targets, [(d, a) for d, a, r in captured])]
    else:
        blocks = []
        for fn in targets:
            kind = _propagator_kind(fn)
            entries = [(d, a) for d, a, r in captured if r & kind]
            if entries:
                blocks.append(([fn], entries))
    for fns, entries in blocks:
        if not entries:
            continue
        saved = node.propagators
        node.propagators = fns
        try:
            _propagate_block(node, entries)
        finally:
            node.propagators = saved


def _propagator_kind(fn):
    owner = getattr(fn, "__self__", None)
    module = type(owner).__module__ if owner is not None else getattr(fn, "__module__", "")
    if module.endswith("aof"):
        return REPL_AOF
    if "replication" in module:
        return REPL_REPLICA
    return REPL_ALL


def parse_shebang(body):
    """(flags, offset of the code) of an EVAL body; CommandError for a bad
    shebang (evalExtractShebangFlags's texts)."""
    if not body.startswith(b"#!"):
        return EVAL_COMPAT, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid script shebang")
    parts = body[:end].split()
    if not parts or parts[0] != b"#!lua":
        raise CommandError("ERR Unexpected engine in script shebang: %s"
                           % (parts[0] if parts else b"#!").decode("utf-8", "replace"))
    flags = 0
    for part in parts[1:]:
        if part.startswith(b"flags="):
            for name in part[6:].split(b","):
                if not name:
                    continue
                bit = FLAG_NAMES.get(name)
                if bit is None:
                    raise CommandError("ERR Unexpected flag in script shebang: %s"
                                       % name.decode("utf-8", "replace"))
                flags |= bit
        else:
            raise CommandError("ERR Unknown lua shebang option: %s"
                               % part.decode("utf-8", "replace"))
    return flags, end
