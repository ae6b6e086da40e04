"""Server commands: INFO, TIME, CONFIG, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB,
SHUTDOWN, plus COMMAND/HELP (from introspection)."""
import math
import random
import time


from .. import REDIS_VERSION
from .. import config as cfg
from .. import errors
from .. import shutdown as sd      # (declares shutdown-timeout)
from ..errors import CommandError
from ..observability import info as info_mod
from ..protocol.resp import OK, Verbatim, NO_REPLY
from .registry import (command, container, ADMIN, NOSCRIPT, LOADING, STALE, WRITE, FAST,
                       READONLY, NO_MULTI, SENTINEL, ALLOW_BUSY)
from .util import glob_match, parse_int, parse_int32
from . import introspection  # noqa: F401  (COMMAND, HELP)
from ..server.blocking import signal_db_ready
from ..storage.keyspace import release
from .connection import tracking_flush

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
    """FLUSHDB/FLUSHALL [ASYNC | SYNC] -> free lazily?  (Redis's default,
    lazyfree-lazy-user-flush no, is SYNC.)"""
    if not args:
        return False
    if len(args) > 1:
        raise CommandError(errors.SYNTAX)
    a = args[0].lower()
    if a == b"async":
        return True
    if a == b"sync":
        return False
    raise CommandError(errors.SYNTAX)


def flush_db(ctx, db, lazy):
    old = (db.data, db.expires)
    n = len(db.data)
    db.flush()
    if lazy:
        # The keyspace's lazyfree worker empties the old dicts in slices.
        for part in old:
            release(part)
    return n


@command("flushdb", arity=-1, flags=WRITE, group=G, syntax="[ASYNC | SYNC]",
         categories=("keyspace", "dangerous"))
def flushdb(ctx, *args):
    """Remove all keys from the current database."""
    lazy = _flush_mode(args)
    n = flush_db(ctx, ctx.db, lazy)
    tracking_flush(ctx.node)
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
    tracking_flush(ctx.node)
    ctx.node.keyspace.dirty += n + 1
    ctx.propagate_as = [[b"flushall"]]
    ctx.node.keyspace.forget_replica_expires()
    for hook in ctx.node.flushall_hooks:
        hook()
    return OK


@command("swapdb", arity=3, flags=WRITE | FAST, group=G, since="4.0.0", syntax="index1 index2",
         categories=("keyspace", "dangerous"))
def swapdb(ctx, a, b):
    """Swaps two Redis databases."""
    if ctx.node.cluster is not None:
        raise CommandError("ERR SWAPDB is not allowed in cluster mode")
    ia = parse_int32(a, "ERR invalid first DB index")
    ib = parse_int32(b, "ERR invalid second DB index")
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
    flags = 0
    abort = False
    for a in args:
        a = a.lower()
        if a == b"nosave":
            flags |= sd.NOSAVE
        elif a == b"save":
            flags |= sd.SAVE
        elif a == b"now":
            flags |= sd.NOW
        elif a == b"force":
            flags |= sd.FORCE
        elif a == b"abort":
            abort = True
        else:
            raise CommandError(errors.SYNTAX)
    if (abort and flags) or (flags & sd.NOSAVE and flags & sd.SAVE):
        raise CommandError(errors.SYNTAX)
    ctl = getattr(ctx.node, "shutdown_ctl", None)
    if abort:
        if ctl is not None and ctl.abort():
            return OK
        raise CommandError("ERR No shutdown in progress.")
    if ctl is None:
        raise CommandError(sd.ERRORS)
    ctx.blocked = True          # (INFO blocked_clients while it waits for replicas)
    try:
        exiting = ctl.command(flags)
    finally:
        ctx.blocked = False
    if not exiting:
        raise CommandError(sd.ERRORS)
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


_DENY_LOADING = frozenset(["appendonly", "dir", "repl-diskless-load"])


@command("config|set", arity=-4, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
         since="2.0.0", syntax="parameter value [parameter value ...]")
def config_set(ctx, *args):
    """Set configuration parameters to the given values."""
    if len(args) % 2:
        raise errors.wrong_arity("config|set")
    pairs = [(args[i].decode("utf-8", "replace"), args[i + 1]) for i in range(0, len(args), 2)]
    node = ctx.node
    if node.loading or getattr(node, "async_loading", False):
        # Redis's DENY_LOADING_CONFIG settings cannot change while a data
        # set is being loaded (a replica's full sync, async or not).
        for name, _ in pairs:
            s = cfg.find(name)
            if s is not None and s.redis in _DENY_LOADING:
                raise CommandError("LOADING Redis is loading the dataset in memory")
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
        spec.fast[:] = [0] * len(spec.fast)
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


# -- LOLWUT -----------------------------------------------------------------------
def _lolwut_long(arg):
    return parse_int(arg, CommandError(errors.NOT_INTEGER))


def _c_round(v):
    """C's round(): halves away from zero."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


class _Canvas:
    def __init__(self, width, height, color=0):
        self.width, self.height = width, height
        self.pixels = bytearray([color]) * (width * height)

    def draw(self, x, y, color):
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[x + y * self.width] = color

    def get(self, x, y):
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.pixels[x + y * self.width]
        return 0

    def line(self, x1, y1, x2, y2, color):
        # Bresenham, as lolwut.c's lwDrawLine
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        while True:
            self.draw(x1, y1, color)
            if x1 == x2 and y1 == y2:
                break
            e2 = err * 2
            if e2 > -dy:
                err -= dy
                x1 += sx
            if e2 < dx:
                err += dx
                y1 += sy

    def square(self, x, y, size, angle, color):
        size = _c_round(size / 1.4142135623)
        k = math.pi / 4 + angle
        px, py = [], []
        for _ in range(4):
            px.append(_c_round(math.sin(k) * size + x))
            py.append(_c_round(math.cos(k) * size + y))
            k += math.pi / 2
        for j in range(4):
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color)


def _lolwut5(args, version):
    """Schotter (Georg Nees, 1968), LOLWUT VERSION 5 [cols [per-row [per-col]]]."""
    cols, per_row, per_col = 66, 8, 12
    if len(args) > 0:
        cols = _lolwut_long(args[0])
    if len(args) > 1:
        per_row = _lolwut_long(args[1])
    if len(args) > 2:
        per_col = _lolwut_long(args[2])
    cols = min(max(cols, 1), 1000)
    per_row = min(max(per_row, 1), 200)
    per_col = min(max(per_col, 1), 200)
    width = cols * 2
    padding = 2 if width > 4 else 0
    side = (width - padding * 2) / per_row
    canvas = _Canvas(width, int(side * per_col + padding * 2))
    rnd = random.random
    for y in range(per_col):
        for x in range(per_row):
            sx = int(x * side + side / 2 + padding)
            sy = int(y * side + side / 2 + padding)
            angle = 0.0
            if y > 1:
                r1, r2, r3 = (rnd() / per_col * y for _ in range(3))
                r1, r2, r3 = (r if random.getrandbits(1) else -r for r in (r1, r2, r3))
                angle = r1
                sx += int(r2 * side / 3)
                sy += int(r3 * side / 3)
            canvas.square(sx, sy, side, angle, 1)
    text = []
    g = canvas.get
    for y in range(0, canvas.height, 4):
        for x in range(0, canvas.width, 2):
            byte = (g(x, y) | g(x, y + 1) << 1 | g(x, y + 2) << 2 | g(x + 1, y) << 3
                    | g(x + 1, y + 1) << 4 | g(x + 1, y + 2) << 5 | g(x, y + 3) << 6
                    | g(x + 1, y + 3) << 7)
            text.append(chr(0x2800 + byte))
        if y != canvas.height - 1:
            text.append("\n")
    return "".join(text) + ("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. %s\n"
                            % version)


def _lolwut6(args, version):
    """A city skyline (8 bit games' parallax), LOLWUT VERSION 6 [cols [rows]]."""
    cols, rows = 80, 20
    if len(args) > 0:
        cols = _lolwut_long(args[0])
    if len(args) > 1:
        rows = _lolwut_long(args[1])
    cols = min(max(cols, 1), 1000)
    rows = min(max(rows, 1), 1000)
    canvas = _Canvas(cols, rows, 3)
    rand = random.getrandbits

    def skyscraper(xoff, width, height, windows, color):
        starty = canvas.height - 1
        endy = starty - height + 1
        for y in range(starty, endy - 1, -1):
            for x in range(xoff, xoff + width):
                if y == endy and (x <= xoff + 1 or x >= xoff + width - 2):
                    continue
                c = color
                if windows and xoff + 1 < x < xoff + width - 2 and endy + 1 < y < starty - 1:
                    relx, rely = x - (xoff + 1), y - (endy + 1)
                    if (relx // 2) % 2 and rely % 2:
                        c = 1 + rand(1)
                        while c == color:
                            c = 1 + rand(1)
                        if relx % 2:
                            c = canvas.get(x - 1, y)
                canvas.draw(x, y, c)

    h = canvas.height
    for color in (2, 1):
        offset = -10
        while offset < canvas.width:
            offset += random.randrange(8)
            width = 10 + random.randrange(9)
            height = h // 2 + (random.randrange(h) // 2 if color == 2 else random.randrange(h) // 3)
            skyscraper(offset, width, height, False, color)
            offset += width // 2 if color == 2 else width + 1
    offset = -10
    while offset < canvas.width:
        offset += random.randrange(8)
        width = 5 + random.randrange(14)
        if width % 4:
            width += width % 3
        skyscraper(offset, width, h // 3 + random.randrange(h) // 2, True, 0)
        offset += width + 5
    escapes = ("0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m")
    lines = ["".join("\033[%s \033[0m" % escapes[canvas.get(x, y)] for x in range(canvas.width))
             for y in range(canvas.height)]
    return ("\n".join(lines) + "\nDedicated to the 8 bit game developers of past and present.\n"
            "Original 8 bit image from Plaguemon by hikikomori. Redis ver. %s\n" % version)


@command("lolwut", arity=-1, flags=READONLY | FAST, group=G, since="5.0.0",
         syntax="[VERSION version]")
def lolwut(ctx, *args):
    """Display some computer art and the Redis version."""
    version = REDIS_VERSION
    chosen = None
    if len(args) >= 2 and args[0].lower() == b"version":
        ver = _lolwut_long(args[1]) & 0xFFFFFFFF     # printed as unsigned int
        chosen = "%d.0.0" % ver
        args = args[2:]
    v = chosen or version
    if (v[:2] == "5." and v[2:3] != "9") or (v[:2] == "4." and v[2:3] == "9"):
        return Verbatim(_lolwut5(args, version))
    if (v[:2] == "6." and v[2:3] != "9") or (v[:2] == "5." and v[2:3] == "9"):
        return Verbatim(_lolwut6(args, version))
    return Verbatim("Redis ver. %s\n" % version)
