"""Server commands: INFO, TIME, CONFIG, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB,
SHUTDOWN, plus COMMAND/HELP (from introspection)."""
import time

import gevent

from .. import config as cfg
from .. import errors
from ..errors import CommandError
from ..observability import info as info_mod
from ..protocol.resp import OK, Verbatim, NO_REPLY
from .registry import (command, container, ADMIN, NOSCRIPT, LOADING, STALE, WRITE, FAST,
                       READONLY, NO_MULTI, SENTINEL, ALLOW_BUSY, MAY_REPLICATE)
from .util import glob_match, parse_int
from . import introspection  # noqa: F401  (COMMAND, HELP)
from ..server.blocking import signal_db_ready

G = "server"


@command("info", arity=-1, flags=LOADING | STALE | SENTINEL, group=G, categories=("dangerous",),
         syntax="[section [section ...]]")
def info(ctx, *sections):
    """Get information and statistics about the server."""
    return Verbatim(info_mod.render(ctx.node, sections))


@command("time", arity=1, flags=LOADING | STALE | FAST, group=G, since="2.6.0", syntax="")
def time_(ctx):
    """Return the current server time."""
    now = time.time()
    sec = int(now)
    return [b"%d" % sec, b"%d" % int((now - sec) * 1e6)]


@command("dbsize", arity=1, flags=READONLY | FAST, group=G, syntax="",
         categories=("keyspace",))
def dbsize(ctx):
    """Return the number of keys in the selected database."""
    return len(ctx.db.data)


def _flush_mode(args):
    if not args:
        return ctx_default_async()
    if len(args) > 1:
        raise CommandError(errors.SYNTAX)
    a = args[0].lower()
    if a == b"async":
        return True
    if a == b"sync":
        return False
    raise CommandError(errors.SYNTAX)


def ctx_default_async():
    return False


def free_lazily(objects):
    """Drop big containers without stalling clients: a background greenlet
    deletes their items in slices (lazyfree)."""
    def run():
        for obj in objects:
            if isinstance(obj, dict):
                n = 0
                while obj:
                    obj.popitem()
                    n += 1
                    if n % 10000 == 0:
                        gevent.sleep(0)
    if any(len(o) > 10000 for o in objects):
        gevent.spawn(run)


def flush_db(ctx, db, lazy):
    old = (db.data, db.expires)
    n = len(db.data)
    db.flush()
    if lazy:
        free_lazily(old)
    return n


@command("flushdb", arity=-1, flags=WRITE, group=G, syntax="[ASYNC | SYNC]",
         categories=("keyspace", "dangerous"))
def flushdb(ctx, *args):
    """Remove all keys from the current database."""
    lazy = _flush_mode(args)
    n = flush_db(ctx, ctx.db, lazy)
    ctx.node.keyspace.dirty += n + 1
    ctx.propagate_as = [[b"flushdb"]]
    return OK


@command("flushall", arity=-1, flags=WRITE, group=G, syntax="[ASYNC | SYNC]",
         categories=("keyspace", "dangerous"))
def flushall(ctx, *args):
    """Remove all keys from all databases."""
    lazy = _flush_mode(args)
    n = 0
    for db in ctx.node.keyspace.dbs:
        n += flush_db(ctx, db, lazy)
    ctx.node.keyspace.dirty += n + 1
    ctx.propagate_as = [[b"flushall"]]
    for hook in ctx.node.flushall_hooks:
        hook()
    return OK


@command("swapdb", arity=3, flags=WRITE | FAST, group=G, since="4.0.0", syntax="index1 index2",
         categories=("keyspace", "dangerous"))
def swapdb(ctx, a, b):
    """Swaps two Redis databases."""
    ia = parse_int(a, CommandError("ERR invalid first DB index"))
    ib = parse_int(b, CommandError("ERR invalid second DB index"))
    if ctx.node.cluster is not None:
        raise CommandError("ERR SWAPDB is not allowed in cluster mode")
    n = len(ctx.node.keyspace.dbs)
    if not (0 <= ia < n and 0 <= ib < n):
        raise CommandError(errors.DB_INDEX)
    if ia != ib:
        ks = ctx.node.keyspace
        ks.swap(ia, ib)
        # Clients blocked on keys of either database may now be servable.
        signal_db_ready(ks.dbs[ia])
        signal_db_ready(ks.dbs[ib])
    ctx.node.keyspace.dirty += 1
    return OK


@command("shutdown", arity=-1, flags=ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY,
         group=G, syntax="[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]")
def shutdown(ctx, *args):
    """Synchronously save the dataset to disk and then shut down the server."""
    save = None
    for a in args:
        a = a.lower()
        if a == b"nosave" and save is None:
            save = False
        elif a == b"save" and save is None:
            save = True
        elif a in (b"now", b"force"):
            pass
        elif a == b"abort":
            raise CommandError("ERR No shutdown in progress.")
        else:
            raise CommandError(errors.SYNTAX)
    node = ctx.node
    for check in node.shutdown_checks:
        check(save)  # raises CommandError when a requested save cannot be done
    if node.request_shutdown is None:
        raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
    node.request_shutdown(save)
    ctx.close_after_reply = True
    return NO_REPLY


# -- CONFIG -----------------------------------------------------------------------
container("config", group=G, since="2.0.0", summary="A container for server configuration commands.")


@command("config|get", arity=-3, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
         since="2.0.0", syntax="parameter [parameter ...]")
def config_get(ctx, *patterns):
    """Get the values of configuration parameters."""
    out = {}
    config = ctx.node.config
    for p in patterns:
        for k, v in config.get_matching(p.decode("utf-8", "replace")).items():
            out[k.encode()] = v.encode()
        # Redis lists an alias (hash-max-ziplist-entries) as a name of its own.
        for alias, s in _config_aliases():
            if alias not in out and glob_match(p.lower(), alias):
                out[alias] = s.format(config.values[s.name]).encode()
    return out


def _config_aliases():
    """(alias, setting) for every extra Redis name a setting accepts: a
    flag that is neither its own name nor its Redis name."""
    out = []
    for s in cfg.SETTINGS.values():
        for flag in s.flags:
            name = flag.lstrip("-")
            if name not in (s.name, s.public_name):
                out.append((name.encode(), s))
    return out


@command("config|set", arity=-4, flags=ADMIN | NOSCRIPT | LOADING | STALE | MAY_REPLICATE, group=G,
         since="2.0.0", syntax="parameter value [parameter value ...]")
def config_set(ctx, *args):
    """Set configuration parameters to the given values."""
    if len(args) % 2:
        raise errors.wrong_arity("config|set")
    pairs = [(args[i].decode("utf-8", "replace"), args[i + 1]) for i in range(0, len(args), 2)]
    try:
        ctx.node.config.set_many(pairs)
    except cfg.ConfigError as e:
        raise CommandError("ERR %s" % e) from None
    return OK


@command("config|resetstat", arity=2, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
         since="2.0.0", syntax="")
def config_resetstat(ctx):
    """Reset the stats returned by INFO."""
    from . import registry
    node = ctx.node
    node.stats.reset()
    node.keyspace.stat_expired_keys = 0
    node.keyspace.stat_evicted_keys = 0
    for spec in registry.all_specs(include_subcommands=True):
        spec.stats[:] = [0, 0, 0, 0]
    for hook in node.resetstat_hooks:
        hook()
    return OK


@command("config|rewrite", arity=2, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
         since="2.8.0", syntax="")
def config_rewrite(ctx):
    """Rewrite the configuration file with the in memory configuration."""
    try:
        ctx.node.config.rewrite()
    except cfg.ConfigError as e:
        raise CommandError("ERR %s" % e) from None
    except OSError as e:
        raise CommandError("ERR Rewriting config file: %s" % e.strerror) from None
    return OK


@command("config|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="")
def config_help(ctx):
    """Show helpful text about the different subcommands."""
    return introspection.container_help("config")
