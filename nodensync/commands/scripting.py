"""Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (the engine is
``nodensync/scripting``; functions are in ``commands/functions.py``).

A script's effects are propagated, not the script (Redis 7): EVAL itself is
never propagated (``spec.propagate = False``); the writes it made go on
from the engine, wrapped in MULTI/EXEC when there are more than one.
"""
from ..errors import CommandError
from ..protocol.resp import OK, Raw, status_lines
from .. import config as cfg
from ..scripting import engine as E
from .registry import (COMMANDS, DENYOOM, WRITE, command, container, dynamic_flags,
                       keys_after_numkeys, NOSCRIPT, STALE, SKIP_MONITOR, NO_MANDATORY_KEYS,
                       MAY_REPLICATE, READONLY, LOADING, ALLOW_BUSY)
from .util import parse_int

G = "scripting"
_EVAL_FLAGS = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MAY_REPLICATE
_EVAL_RO_FLAGS = (_EVAL_FLAGS & ~MAY_REPLICATE) | READONLY      # (as Redis's eval_ro.json)
_EVAL_KEYS = keys_after_numkeys(2)

cfg.declare("busyReplyThreshold", "int", 5000,
            "Milliseconds a script (EVAL, FCALL) runs before other clients are answered -BUSY "
            "and SCRIPT KILL / FUNCTION KILL may stop it (0: never).",
            redis="busy-reply-threshold", mutable=True, minimum=0, maximum=2 ** 62,
            flags=["--busyReplyThreshold", "--busy-reply-threshold", "--lua-time-limit"],
            group="limits")

BUSY_EVAL = ("BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
             "SHUTDOWN NOSAVE.")
BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")


class ScriptCache:
    """SCRIPT LOAD / EVAL's cache: sha (lowercase hex bytes) -> (body,
    flags, code offset, compiled function)."""

    def __init__(self, node):
        self.node = node
        self.scripts = {}
        self.bytes = 0
        self.engine = None

    def lua(self):
        if self.engine is None:
            self.engine = E.LuaEngine(self.node)
        return self.engine

    @property
    def cached_scripts(self):
        return len(self.scripts)

    def load(self, body):
        """The cache entry of ``body``, compiled (and cached) if new."""
        sha = E.sha1hex(body)
        entry = self.scripts.get(sha)
        if entry is not None:
            return sha, entry
        flags, offset = E.parse_shebang(body)
        try:
            fn = self.lua().compile(body[offset:])
        except CommandError as e:
            raise CommandError("ERR Error compiling script (new function): %s" % e.message)
        entry = (body, flags, fn)
        self.scripts[sha] = entry
        self.bytes += len(body)
        return sha, entry

    def flush(self):
        self.scripts = {}
        self.bytes = 0
        self.engine = None          # a fresh Lua state, as Redis's SCRIPT FLUSH


def cache_of(node):
    cache = getattr(node, "scripting", None)
    if cache is None:
        cache = node.scripting = ScriptCache(node)
    return cache


def _numkeys(ctx, numkeys, rest):
    n = parse_int(numkeys)
    if n < 0:
        raise CommandError("ERR Number of keys can't be negative")
    if n > len(rest):
        raise CommandError("ERR Number of keys can't be greater than number of args")
    return n


def check_script_flags(ctx, flags, ro):
    """scriptPrepareForRun's refusals for a script with a shebang (or a
    function): the OOM state at its start, for redis.call's check."""
    node = ctx.node
    compat = flags & E.EVAL_COMPAT
    oom = False
    if node.memory is not None and not ctx.is_master and getattr(ctx, "kind", "") != "aof":
        try:
            node.memory.ensure(ctx, None)
        except CommandError:
            oom = True
        except Exception:
            oom = False
    if compat:
        return oom
    if flags & E.NO_CLUSTER and node.cluster is not None:
        raise CommandError("ERR Can not run script on cluster, 'no-cluster' flag is set.")
    if not flags & E.NO_WRITES:
        if node.replica_read_only and not ctx.is_master and getattr(ctx, "kind", "") != "aof":
            raise CommandError("READONLY Can not run script with write flag on readonly replica")
        if node.write_guard is not None:
            try:
                node.write_guard(ctx, _WRITE_PROBE)
            except CommandError as e:
                if e.message.startswith("MISCONF"):
                    raise CommandError(
                        "MISCONF Redis is configured to save RDB snapshots, but it's currently "
                        "unable to persist to disk. Writable scripts are blocked. Use 'no-writes' "
                        "flag for read only scripts.")
        if ro:
            raise CommandError("ERR Can not execute a script with write flag using *_ro command.")
    # (no-writes implies allow-oom; checked after the write refusals, as Redis)
    if oom and not flags & (E.ALLOW_OOM | E.NO_WRITES):
        raise CommandError("OOM allow-oom flag is not set on the script, "
                           "can not run it when used memory > 'maxmemory'")
    return oom


def _run_script(ctx, sha, entry, numkeys, rest, ro, command_name):
    body, flags, fn = entry
    n = _numkeys(ctx, numkeys, rest) if not isinstance(numkeys, int) else numkeys
    oom = check_script_flags(ctx, flags, ro)
    cache = cache_of(ctx.node)
    run = E.ScriptRun(ctx, flags, ro, True, b"f_" + sha, command_name)
    run.oom_at_start = oom
    ok, *res = cache.lua().execute(run, fn, rest[:n], rest[n:])
    if ok:
        return Raw(res[0])
    return _script_error(sha, res)


def _script_error(sha, res):
    """The CommandError of a script's error outcome (message, source, line,
    whether the stats have it already)."""
    msg = res[0]
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    counted = len(res) >= 4 and res[3] is True
    if len(res) >= 3 and res[1] is not None:
        source, line = res[1], res[2]
        if isinstance(source, bytes):
            source = source.decode("utf-8", "replace")
        if isinstance(line, bytes):
            line = line.decode()
        msg = "%s script: %s, on %s:%s." % (msg, sha.decode(), source, line)
    e = CommandError(msg)
    e.counted = counted
    raise e


def _eval(ctx, body, numkeys, rest, ro, name):
    _numkeys(ctx, numkeys, rest)
    sha, entry = cache_of(ctx.node).load(body)
    return _run_script(ctx, sha, entry, numkeys, rest, ro, name)


def _evalsha(ctx, sha, numkeys, rest, ro, name):
    _numkeys(ctx, numkeys, rest)
    key = sha.lower()
    entry = cache_of(ctx.node).scripts.get(key) if len(sha) == 40 else None
    if entry is None:
        raise CommandError("NOSCRIPT No matching script. Please use EVAL.")
    return _run_script(ctx, key, entry, numkeys, rest, ro, name)


@command("eval", arity=-3, flags=_EVAL_FLAGS, keys=_EVAL_KEYS, group=G, since="2.6.0",
         syntax="script numkeys [key [key ...]] [arg [arg ...]]")
def eval_(ctx, body, numkeys, *rest):
    """Execute a Lua script server side."""
    return _eval(ctx, body, numkeys, rest, False, "eval")


@command("evalsha", arity=-3, flags=_EVAL_FLAGS, keys=_EVAL_KEYS, group=G, since="2.6.0",
         syntax="sha1 numkeys [key [key ...]] [arg [arg ...]]")
def evalsha(ctx, sha, numkeys, *rest):
    """Execute a Lua script server side."""
    return _evalsha(ctx, sha, numkeys, rest, False, "evalsha")


@command("eval_ro", arity=-3, flags=_EVAL_RO_FLAGS, keys=_EVAL_KEYS, group=G,
         since="7.0.0", syntax="script numkeys [key [key ...]] [arg [arg ...]]")
def eval_ro(ctx, body, numkeys, *rest):
    """Execute a read-only Lua script server side."""
    return _eval(ctx, body, numkeys, rest, True, "eval_ro")


@command("evalsha_ro", arity=-3, flags=_EVAL_RO_FLAGS, keys=_EVAL_KEYS, group=G,
         since="7.0.0", syntax="sha1 numkeys [key [key ...]] [arg [arg ...]]")
def evalsha_ro(ctx, sha, numkeys, *rest):
    """Execute a read-only Lua script server side."""
    return _evalsha(ctx, sha, numkeys, rest, True, "evalsha_ro")


for _fn in (eval_, evalsha, eval_ro, evalsha_ro):
    _fn.spec.propagate = False      # (the script's effects are propagated instead)


class _WriteProbe:
    """A stand-in spec for the write checks made before a script runs."""
    name = fullname = "eval"
    flags = 1        # WRITE
    parent = None


_WRITE_PROBE = _WriteProbe()


# -- SCRIPT -------------------------------------------------------------------------------
container("script", group=G, since="2.6.0", summary="A container for Lua scripts management commands.")

_SCRIPT_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]


@command("script|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="")
def script_help(ctx):
    """Show helpful text about the different subcommands."""
    return status_lines(_SCRIPT_HELP)


@command("script|load", arity=3, flags=NOSCRIPT | STALE, group=G, since="2.6.0",
         syntax="script",
         summary="Load the specified Lua script into the script cache.")
def script_load(ctx, body):
    """Load the specified Lua script into the script cache."""
    sha, _ = cache_of(ctx.node).load(body)
    return sha


@command("script|exists", arity=-3, flags=NOSCRIPT, group=G, since="2.6.0",
         syntax="sha1 [sha1 ...]",
         summary="Check existence of scripts in the script cache.")
def script_exists(ctx, *shas):
    """Check existence of scripts in the script cache."""
    scripts = cache_of(ctx.node).scripts
    return [1 if s.lower() in scripts else 0 for s in shas]


def parse_flush_mode(args, what):
    if not args:
        return None
    if len(args) == 1 and args[0].lower() in (b"sync", b"async"):
        return args[0].lower()
    raise CommandError("ERR %s FLUSH only support SYNC|ASYNC option" % what)


@command("script|flush", arity=-2, flags=NOSCRIPT, group=G, since="2.6.0",
         syntax="[ASYNC | SYNC]",
         summary="Remove all the scripts from the script cache.")
def script_flush(ctx, *args):
    """Remove all the scripts from the script cache."""
    parse_flush_mode(args, "SCRIPT")
    cache_of(ctx.node).flush()
    return OK


@command("script|debug", arity=3, flags=NOSCRIPT, group=G, since="3.2.0",
         syntax="YES | SYNC | NO", summary="Set the debug mode for executed scripts.")
def script_debug(ctx, mode):
    """There is no Lua debugger (LDB): NO is accepted, YES and SYNC refused."""
    if ctx.multi is not None or getattr(ctx, "in_exec", False):
        raise CommandError("ERR SCRIPT DEBUG must be called outside MULTI")
    m = mode.lower()
    if m == b"no":
        return OK
    if m in (b"yes", b"sync"):
        raise CommandError("ERR SCRIPT DEBUG YES/SYNC is not supported: NodeNsync has no Lua "
                           "debugger")
    raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


@command("script|kill", arity=2, flags=NOSCRIPT | ALLOW_BUSY, group=G, since="2.6.0", syntax="",
         summary="Kill the script currently in execution.")
def script_kill(ctx):
    """Kill the script currently in execution."""
    return kill_running(ctx, True)


def kill_running(ctx, is_eval):
    run = getattr(ctx.node, "script_run", None)
    if run is None:
        raise CommandError("NOTBUSY No scripts in execution right now.")
    if run.client.is_master:
        raise CommandError("UNKILLABLE The busy script was sent by a master instance in the "
                           "context of replication and cannot be killed.")
    if run.write_dirty:
        raise CommandError("UNKILLABLE Sorry the script already executed write commands "
                           "against the dataset. You can either wait the script termination "
                           "or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
    if is_eval and not run.eval_mode:
        raise CommandError(BUSY_FUNCTION)
    if not is_eval and run.eval_mode:
        raise CommandError(BUSY_EVAL)
    run.killed = True
    return OK


# -- the command flags a script declares ---------------------------------------------
def declared_flags(spec_flags, script_flags):
    """Redis's scriptFlagsToCmdFlags: a script with a shebang (or a
    function) replaces its command's write/denyoom/stale/may-replicate
    flags by what it declares; one without keeps the command's."""
    if script_flags & E.EVAL_COMPAT:
        return spec_flags
    flags = spec_flags & ~(STALE | DENYOOM | WRITE | MAY_REPLICATE)
    if not script_flags & (E.ALLOW_OOM | E.NO_WRITES):
        flags |= DENYOOM
    if not script_flags & E.NO_WRITES:
        flags |= WRITE
    if script_flags & E.ALLOW_STALE:
        flags |= STALE
    return flags


def eval_command_flags(node, spec, argv):
    """evalGetCommandFlags: the flags of the script EVAL / EVALSHA would run
    (CLIENT PAUSE WRITE lets a no-writes script through)."""
    if len(argv) < 2:
        return spec.flags
    if spec.name.startswith("evalsha"):
        entry = cache_of(node).scripts.get(argv[1].lower())
        if entry is None:
            return spec.flags
        script_flags = entry[1]
    else:
        try:
            script_flags = E.parse_shebang(argv[1])[0]
        except CommandError:
            return spec.flags
    return declared_flags(spec.flags, script_flags)


for _name in ("eval", "eval_ro", "evalsha", "evalsha_ro"):
    dynamic_flags(COMMANDS[_name], eval_command_flags)
    COMMANDS[_name].monitor_first = True
