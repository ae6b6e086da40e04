"""Redis 7 functions: FUNCTION LOAD | LIST | DELETE | FLUSH | DUMP | RESTORE |
STATS | KILL | HELP, FCALL and FCALL_RO (the library store is
``scripting/functions.py``).

FUNCTION LOAD, DELETE, FLUSH and RESTORE are write commands: they count as
a change (``keyspace.dirty``) so ``dispatch.call`` propagates them as sent
to the AOF and the replicas.  FCALL, as EVAL, propagates its effects.
"""
import time

from ..errors import CommandError
from ..protocol.resp import OK, OrderedSet, Raw, Status, status_lines
from ..scripting import engine as E
from ..scripting.functions import FunctionStore
from .registry import (COMMANDS, command, container, dynamic_flags, keys_after_numkeys,
                       NOSCRIPT, STALE, SKIP_MONITOR, NO_MANDATORY_KEYS, MAY_REPLICATE, READONLY,
                       LOADING, ALLOW_BUSY, WRITE, DENYOOM)
from .scripting import _numkeys, check_script_flags, declared_flags, _script_error, kill_running
from .monitoring import _subcommand_error, _typed_argv
from .util import glob_match, parse_int

G = "scripting"
_FCALL_FLAGS = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MAY_REPLICATE
_FCALL_RO_FLAGS = (_FCALL_FLAGS & ~MAY_REPLICATE) | READONLY    # (as Redis's fcall_ro.json)
_FCALL_KEYS = keys_after_numkeys(2)


def store_of(node):
    store = getattr(node, "functions", None)
    if store is None:
        store = node.functions = FunctionStore(node)
    return store


def _changed(ctx):
    ctx.node.keyspace.dirty += 1      # (propagated as sent, like any write)


def _fcall(ctx, name, numkeys, rest, ro, command_name):
    store = store_of(ctx.node)
    f = store.functions.get(name.lower())
    if f is None:
        raise CommandError("ERR Function not found")
    try:
        parse_int(numkeys)
    except CommandError:
        raise CommandError("ERR Bad number of keys provided") from None
    n = _numkeys(ctx, numkeys, rest)
    oom = check_script_flags(ctx, f.flags, ro)
    engine = store.engine()
    typed = _typed_argv(command_name.decode())      # (FUNCTION STATS shows it as sent)
    run = E.ScriptRun(ctx, f.flags, ro, False, name,
                      list(typed) if typed else [command_name, name, numkeys, *rest])
    run.oom_at_start = oom
    ok, *res = engine.execute(run, f.callback, rest[:n], rest[n:], caller=store._call_fn)
    if ok:
        return Raw(res[0])
    return _script_error(name, res)


@command("fcall", arity=-3, flags=_FCALL_FLAGS, keys=_FCALL_KEYS, group=G, since="7.0.0",
         syntax="function numkeys [key [key ...]] [arg [arg ...]]", summary="Invoke a function")
def fcall(ctx, name, numkeys, *rest):
    return _fcall(ctx, name, numkeys, rest, False, b"fcall")


@command("fcall_ro", arity=-3, flags=_FCALL_RO_FLAGS, keys=_FCALL_KEYS, group=G,
         since="7.0.0", syntax="function numkeys [key [key ...]] [arg [arg ...]]",
         summary="Invoke a read-only function")
def fcall_ro(ctx, name, numkeys, *rest):
    return _fcall(ctx, name, numkeys, rest, True, b"fcall_ro")


fcall.spec.propagate = False
fcall_ro.spec.propagate = False

LOAD_TIMEOUT_MS = 500

# -- FUNCTION -------------------------------------------------------------------------------
container("function", group=G, since="7.0.0", summary="A container for function commands.")


@command("function|load", arity=-3, flags=WRITE | DENYOOM | NOSCRIPT, group=G, since="7.0.0",
         syntax="[REPLACE] function-code",
         summary="Create a function with the given arguments (name, code, description)")
def function_load(ctx, *args):
    replace = False
    for opt in args[:-1]:
        if opt.lower() != b"replace":
            raise CommandError("ERR Unknown option given: %s" % opt.decode("utf-8", "replace"))
        replace = True
    # A library's code gets 500 ms to register its functions, except when
    # replayed from the AOF or a master (Redis's LOAD_TIMEOUT_MS, mustObeyClient).
    obeys = ctx.is_master or ctx.kind == "aof"
    name = store_of(ctx.node).load(args[-1], replace, 0 if obeys else LOAD_TIMEOUT_MS)
    _changed(ctx)
    return name


@command("function|delete", arity=3, flags=WRITE | NOSCRIPT, group=G, since="7.0.0",
         syntax="library-name", summary="Delete a function by name")
def function_delete(ctx, name):
    store_of(ctx.node).delete(name)
    _changed(ctx)
    return OK


@command("function|flush", arity=-2, flags=WRITE | NOSCRIPT, group=G, since="7.0.0",
         syntax="[ASYNC | SYNC]", summary="Deleting all functions")
def function_flush(ctx, *args):
    if len(args) > 1:
        raise _subcommand_error("flush", "function")
    if args and args[0].lower() not in (b"sync", b"async"):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    store_of(ctx.node).flush()
    _changed(ctx)
    return OK


@command("function|list", arity=-2, flags=NOSCRIPT, group=G, since="7.0.0",
         syntax="[LIBRARYNAME library-name-pattern] [WITHCODE]",
         summary="List information about all the functions")
def function_list(ctx, *args):
    with_code = False
    pattern = None
    i = 0
    while i < len(args):
        a = args[i].lower()
        if a == b"withcode" and not with_code:
            with_code = True
            i += 1
            continue
        if a == b"libraryname" and pattern is None:
            if i >= len(args) - 1:
                raise CommandError("ERR library name argument was not given")
            pattern = args[i + 1]
            i += 2
            continue
        raise CommandError("ERR Unknown argument %s" % args[i].decode("utf-8", "replace"))
    store = store_of(ctx.node)
    out = []
    for lib in store.libraries.values():
        if pattern is not None and not glob_match(pattern, lib.name):
            continue
        d = store.describe(lib, with_code)
        for f in d[b"functions"]:
            f[b"flags"] = OrderedSet(Status(x) for x in f[b"flags"])
        out.append(d)
    return out


@command("function|dump", arity=2, flags=NOSCRIPT, group=G, since="7.0.0", syntax="",
         summary="Dump all functions into a serialized binary payload")
def function_dump(ctx):
    return store_of(ctx.node).dump(ctx.node.config.values.get("rdbCompression", True))


@command("function|restore", arity=-3, flags=WRITE | DENYOOM | NOSCRIPT, group=G,
         since="7.0.0", syntax="serialized-value [FLUSH | APPEND | REPLACE]",
         summary="Restore all the functions on the given payload")
def function_restore(ctx, payload, *args):
    policy = b"append"
    if len(args) > 1:
        raise _subcommand_error("restore", "function")
    if args:
        policy = args[0].lower()
        if policy not in (b"flush", b"append", b"replace"):
            raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, "
                               "APPEND or REPLACE.")
    store_of(ctx.node).restore(payload, policy)
    _changed(ctx)
    return OK


@command("function|stats", arity=2, flags=NOSCRIPT | ALLOW_BUSY, group=G, since="7.0.0",
         syntax="", summary="Return information about the function currently running "
                            "(name, description, duration)")
def function_stats(ctx):
    store = store_of(ctx.node)
    run = getattr(ctx.node, "script_run", None)
    running = None
    if run is not None and run.eval_mode:
        raise CommandError(E._BUSY_EVAL)
    if run is not None:
        running = {b"name": run.name, b"command": list(run.command_name),
                   b"duration_ms": int((time.monotonic() - run.started) * 1000)}
    return {b"running_script": running,
            b"engines": {b"LUA": {b"libraries_count": len(store.libraries),
                                  b"functions_count": len(store.functions)}}}


@command("function|kill", arity=2, flags=NOSCRIPT | ALLOW_BUSY, group=G, since="7.0.0",
         syntax="", summary="Kill the function currently in execution.")
def function_kill(ctx):
    return kill_running(ctx, False)


_FUNCTION_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME "
    "argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored "
    "using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
    "abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


@command("function|help", arity=2, flags=LOADING | STALE, group=G, since="7.0.0", syntax="",
         summary="Show helpful text about the different subcommands")
def function_help(ctx):
    return status_lines(_FUNCTION_HELP)


def fcall_command_flags(node, spec, argv):
    """fcallGetCommandFlags: the flags the called function declares."""
    f = store_of(node).functions.get(argv[1].lower()) if len(argv) > 1 else None
    return spec.flags if f is None else declared_flags(spec.flags, f.flags)


for _name in ("fcall", "fcall_ro"):
    dynamic_flags(COMMANDS[_name], fcall_command_flags)
    COMMANDS[_name].monitor_first = True
