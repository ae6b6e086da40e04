"""DEBUG: the subcommands of Redis 7.0's debugCommand that mean something
for NodeNsync, behind ``enable-debug-command`` (no | yes | local, default
no, as Redis; set in the conf file or on the command line).

Implemented: HELP, SLEEP (stops the whole server, as Redis), SET-ACTIVE-
EXPIRE, RELOAD [MERGE] [NOFLUSH] [NOSAVE], LOADAOF, DIGEST, DIGEST-VALUE
(Redis's own SHA1 mix, so the digests equal redis-server's for the same
data), HTSTATS (Redis's text for CPython's dicts), AOF-FLUSH-SLEEP, OBJECT, POPULATE,
PROTOCOL, LOG, ERROR, CHANGE-REPL-ID, REPLICATE, SEGFAULT,
PANIC and QUICKLIST-PACKED-THRESHOLD (validated, no effect: no quicklist).  The rest of Redis's list inspects its C structures (QUICKLIST,
LISTPACK, SDSLEN, JMAP, MALLCTL ...) and answers
"unknown subcommand" here; DEBUG HELP lists only what is implemented.
Nothing DEBUG does is propagated (Redis sends none of it to replicas).
"""
import ctypes
import hashlib
import logging
import os
import signal
import struct
import sys
import time

from gevent import monkey

from .. import config as cfg
from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, Raw, Status, Verbatim, status_lines
from ..storage import rdb
from ..storage.compact import expand
from ..storage.snapshot import encoding_limits
from ..storage.zset import ZSet
from ..storage.stream import Stream
from .connection import tracking_flush
from .functions import store_of
from .registry import command, ADMIN, NOSCRIPT, LOADING, STALE
from .util import marked_encoding, parse_int

log = logging.getLogger("nodensync.debug")
G = "server"
_sleep = monkey.get_original("time", "sleep")    # blocks the process, as Redis's nanosleep

cfg.declare("enableDebugCommand", "enum", "no",
            "Allow the DEBUG command: no, yes, or local (loopback and Unix-socket "
            "clients only). Redis's default is no.",
            redis="enable-debug-command", choices=["no", "yes", "local"], group="security")

_NOT_ALLOWED = ("ERR DEBUG command not allowed. If the enable-debug-command option is set to "
                "\"local\", you can run it from a local connection, otherwise you need to set "
                "this option in the configuration file, and then restart the server.")
_HELP = [
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "    (NodeNsync: active expiry and the idle-client timeout.)",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "    (NodeNsync: accepted and remembered; its lists have no such nodes.)",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "    (NodeNsync: both accepted; a client has no reply buffer to resize, its",
    "    replies are sent as they are made.)",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
]


def _allowed(ctx):
    mode = ctx.node.config["enableDebugCommand"]
    if mode == "yes":
        return True
    if mode == "local":
        addr = ctx.address
        return not isinstance(addr, tuple) or addr[0] in ("127.0.0.1", "::1")
    return False


@command("debug", arity=-2, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
         syntax="subcommand [argument]", since="1.0.0", complexity="Depends on subcommand.",
         summary="A container for debugging commands")
def debug(ctx, sub, *args):
    """A container for debugging commands"""
    if not _allowed(ctx):
        raise CommandError(_NOT_ALLOWED)
    name = sub.lower()
    fn = _SUBCOMMANDS.get(name)
    if fn is None or not fn.arity[0] <= len(args) <= fn.arity[1]:
        raise errors.subcommand_syntax(sub, "debug")
    return fn(ctx, *args)


debug.spec.propagate = False
_SUBCOMMANDS = {}


def _sub(name, least, most=None):
    def register(fn):
        fn.arity = (least, least if most is None else most)
        _SUBCOMMANDS[name] = fn
        return fn
    return register


@_sub(b"help", 0)
def _help(ctx):
    return status_lines(_HELP)


@_sub(b"sleep", 1)
def _debug_sleep(ctx, seconds):
    try:
        delay = float(seconds)          # (strtod: what does not parse sleeps 0)
    except ValueError:
        delay = 0.0
    if delay > 0:
        _sleep(delay)
    return OK


@_sub(b"set-active-expire", 1)
def _set_active_expire(ctx, flag):
    ctx.node.keyspace.active_cycle = _atoi(flag) != 0
    return OK


@_sub(b"aof-flush-sleep", 1)
def _aof_flush_sleep(ctx, usec):
    """The process sleeps this many microseconds before each AOF write (a
    testing aid, as Redis's); 0 turns it off."""
    ctx.node.persistence.aof.flush_sleep_us = max(0, _atoi(usec))
    return OK


@_sub(b"pause-cron", 1)
def _pause_cron(ctx, flag):
    ctx.node.cron_paused = _atoi(flag) != 0
    return OK


@_sub(b"replybuffer", 2)
def _replybuffer(ctx, what, value):
    """Redis's reply-buffer tuning for its tests: validated and accepted;
    NodeNsync keeps no per-client reply buffer (see the help)."""
    what = what.lower()
    if what == b"peak-reset-time":
        if value.lower() not in (b"never", b"reset"):
            parse_int(value)
    elif what != b"resizing":
        raise errors.subcommand_syntax(b"replybuffer", "debug")
    return OK


@_sub(b"config-rewrite-force-all", 0)
def _config_rewrite_force_all(ctx):
    """CONFIG REWRITE writing every setting, defaults included."""
    from .. import config as cfg
    try:
        ctx.node.config.rewrite(force=True)
    except (cfg.ConfigError, OSError):
        raise CommandError("ERR CONFIG-REWRITE-FORCE-ALL failed: %s" % _strerror()) from None
    return OK


def _strerror():
    import sys
    e = sys.exc_info()[1]
    return getattr(e, "strerror", None) or str(e)


@_sub(b"set-disable-deny-scripts", 1)
def _disable_deny_scripts(ctx, flag):
    """Scripts may call commands flagged noscript (Redis's tests use it to
    reach DEBUG PROTOCOL from Lua)."""
    ctx.node.script_disable_deny = _atoi(flag) != 0
    return OK


@_sub(b"quicklist-packed-threshold", 1)
def _packed_threshold(ctx, size):
    """Validated as Redis does (memtoull, under 4gb - 1mb, 0 = the default);
    it changes nothing here: a NodeNsync list has no packed and plain nodes
    to choose between, so every list behaves as it would with any threshold
    (Redis's list.tcl runs its plain-node cases through it)."""
    try:
        sz = cfg.redis_memory(size.decode("latin-1"))
    except ValueError:
        sz = None
    if sz is None or sz > (1 << 32) - (1 << 20):
        raise CommandError("ERR argument must be a memory value bigger than 1 and smaller "
                           "than 4gb")
    ctx.node.keyspace.packed_threshold = sz or (1 << 30)
    return OK


@_sub(b"log", 1)
def _log(ctx, message):
    log.warning("DEBUG LOG: %s", message.decode("utf-8", "replace"))
    return OK


@_sub(b"error", 1)
def _error(ctx, text):
    return Raw(b"-" + text.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n")


@_sub(b"change-repl-id", 0)
def _change_repl_id(ctx):
    repl = getattr(ctx.node, "replication", None)
    if repl is not None:
        log.warning("Changing replication IDs after receiving DEBUG change-repl-id")
        repl.change_replid()
        repl.clear_replid2()
    return OK


@_sub(b"replicate", 1, 1 << 30)
def _replicate(ctx, *argv):
    """Send a command to the replicas (not run here), in the database the
    stream has selected: a test of what replicas do with a divergence."""
    repl = getattr(ctx.node, "replication", None)
    if repl is not None:
        repl.primary.feed(repl.primary.seldb, [list(argv)])
    return OK


@_sub(b"segfault", 0)
def _segfault(ctx):
    log.warning("DEBUG SEGFAULT: crashing on request")
    from .. import crashlog
    if crashlog.enabled():
        crashlog.report(signal.SIGSEGV, sys._getframe(), "DEBUG SEGFAULT")
    os.kill(os.getpid(), signal.SIGSEGV)
    return OK


@_sub(b"panic", 0)
def _panic(ctx):
    log.critical("!!! DEBUG PANIC called: aborting")
    from .. import crashlog
    if crashlog.enabled():      # (os.abort dies before a Python handler could run)
        crashlog.report(signal.SIGABRT, sys._getframe(), "DEBUG PANIC")
    os.abort()


def _atoi(b):
    """C atoi: leading whitespace and sign, the digits that follow, else 0."""
    s = b.lstrip()
    end = 1 if s[:1] in (b"-", b"+") else 0
    while end < len(s) and 0x30 <= s[end] <= 0x39:
        end += 1
    try:
        return int(s[:end])
    except ValueError:
        return 0


# -- HTSTATS ---------------------------------------------------------------------------

def _dict_table_size(d):
    """The number of slots of CPython's hash table behind dict ``d``
    (PyDictKeysObject.dk_log2_size, read in place on CPython 3.11-3.13);
    elsewhere the smallest power of two whose 2/3 holds its entries."""
    if sys.implementation.name == "cpython" and (3, 11) <= sys.version_info[:2] <= (3, 13):
        keys = ctypes.c_void_p.from_address(id(d) + 32).value       # ma_keys
        if keys:
            return 1 << ctypes.c_uint8.from_address(keys + 8).value   # dk_log2_size
    size = 8
    while size * 2 // 3 < len(d):
        size *= 2
    return size


def _ht_stats(d):
    """Redis's dictGetStats text for a Python dict.  CPython's dict is an
    open-addressing table: every entry has its own slot, so each used slot
    holds a chain of exactly one entry, and none is ever rehashing."""
    n = len(d)
    if n == 0:
        return ("Hash table 0 stats (main hash table):\n"
                "No stats available for empty dictionaries\n")
    size = _dict_table_size(d)
    return ("Hash table 0 stats (main hash table):\n"
            " table size: %d\n"
            " number of elements: %d\n"
            " different slots: %d\n"
            " max chain length: 1\n"
            " avg chain length (counted): 1.00\n"
            " avg chain length (computed): 1.00\n"
            " Chain length distribution:\n"
            "   0: %d (%.02f%%)\n"
            "   1: %d (%.02f%%)\n" % (size, n, n, size - n, (size - n) * 100.0 / size,
                                      n, n * 100.0 / size))


@_sub(b"htstats", 1)
def _htstats(ctx, dbid):
    """DEBUG HTSTATS <dbid>: the keys' and the expiry times' tables of the
    database, in Redis's text."""
    i = parse_int(dbid)
    dbs = ctx.node.keyspace.dbs
    if i < 0 or i >= len(dbs):
        raise CommandError("ERR Out of range database")
    db = dbs[i]
    return Verbatim("[Dictionary HT]\n" + _ht_stats(db.data) +
                    "[Expires HT]\n" + _ht_stats(db.expires))


# -- OBJECT ----------------------------------------------------------------------------

@_sub(b"object", 1)
def _object(ctx, key):
    """Redis's line for the value at ``key``: its address (the Python
    object's), OBJECT REFCOUNT and ENCODING, the length of its RDB
    serialization, and the LRU clock and idle time (those OBJECT IDLETIME
    gives; see docs/compatibility.md).  Redis's quicklist details are not
    given: NodeNsync's lists are not quicklists."""
    from .keys import encoding_of, _refcount as refcount_of   # (keys imports nothing of here)
    db = ctx.db
    value = db.data.get(key)        # (as Redis: a logically expired key is still shown)
    if value is None:
        raise CommandError("ERR no such key")
    conf = ctx.node.config
    try:
        _, body = rdb.Encoder(conf["rdbCompression"], encoding_limits(conf)).value(value)
        serialized = len(body)
    except rdb.UnsupportedValue:
        serialized = 0
    marked = marked_encoding(db, key, value) if type(value) is bytes else None
    encoding = marked or encoding_of(ctx, value)
    if isinstance(encoding, bytes):
        encoding = encoding.decode()
    memory = getattr(ctx.node, "memory_state", None)
    idle = memory.idle_seconds(db, key) if memory is not None and memory.tracker else 0
    lru = (int(time.time()) - idle) & ((1 << 24) - 1)
    return Status(("Value at:0x%x refcount:%d encoding:%s serializedlength:%d lru:%d "
                   "lru_seconds_idle:%d" % (id(value), 1 if marked else refcount_of(ctx, value), encoding,
                                            serialized, lru, idle)).encode())


# -- POPULATE --------------------------------------------------------------------------

@_sub(b"populate", 1, 3)
def _populate(ctx, count, prefix=b"key", size=None):
    keys = _positive(count)
    valsize = _positive(size) if size is not None else 0
    db = ctx.db
    for j in range(keys):
        key = b"%s:%d" % (prefix, j)
        if db.get(key) is not None:
            continue
        value = b"value:%d" % j
        if valsize:
            value = value[:valsize].ljust(valsize, b"\0")
        db.set(key, value)
        if db.watchers:
            db.touch_watched(key)
    return OK


def _positive(b):
    """getPositiveLongFromObjectOrReply: one error for both failures."""
    try:
        v = parse_int(b)
    except CommandError:
        v = -1
    if v < 0:
        raise CommandError("ERR value is out of range, must be positive")
    return v


# -- PROTOCOL --------------------------------------------------------------------------

_REAL_AFTER_ATTRIB = b"$39\r\nSome real reply following the attribute\r\n"
_PROTOCOL = {
    b"string": (b"$11\r\nHello World\r\n",) * 2,
    b"integer": (b":12345\r\n",) * 2,
    b"double": (b"$5\r\n3.141\r\n", b",3.141\r\n"),
    b"bignum": (b"$37\r\n1234567999999999999999999999999999999\r\n",
                b"(1234567999999999999999999999999999999\r\n"),
    b"null": (b"$-1\r\n", b"_\r\n"),
    b"array": (b"*3\r\n:0\r\n:1\r\n:2\r\n",) * 2,
    b"set": (b"*3\r\n:0\r\n:1\r\n:2\r\n", b"~3\r\n:0\r\n:1\r\n:2\r\n"),
    b"map": (b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
             b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"),
    b"attrib": (_REAL_AFTER_ATTRIB,
                b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
                + _REAL_AFTER_ATTRIB),
    b"push": (b"-ERR RESP2 is not supported by this command\r\n",
              b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"
              b"$40\r\nSome real reply following the push reply\r\n"),
    b"verbatim": (b"$25\r\nThis is a verbatim\nstring\r\n",
                  b"=29\r\ntxt:This is a verbatim\nstring\r\n"),
    b"true": (b":1\r\n", b"#t\r\n"),
    b"false": (b":0\r\n", b"#f\r\n"),
}


@_sub(b"protocol", 1)
def _protocol(ctx, kind):
    replies = _PROTOCOL.get(kind.lower())
    if replies is None:
        raise CommandError("ERR Wrong protocol type name. Please use one of the following: "
                           "string|integer|double|bignum|null|array|set|map|attrib|push|"
                           "verbatim|true|false")
    if replies[0].startswith(b"-"):
        if not ctx.resp3:
            raise CommandError(replies[0][1:-2].decode())
    return Raw(replies[1 if ctx.resp3 else 0])


# -- DIGEST ----------------------------------------------------------------------------
# Redis's debug.c: xorDigest folds SHA1(data) into the digest; mixDigest
# then replaces the digest by SHA1(digest), so order matters for it.

def _xor(digest, data):
    h = hashlib.sha1(data).digest()
    for i in range(20):
        digest[i] ^= h[i]


def _mix(digest, data):
    _xor(digest, data)
    digest[:] = hashlib.sha1(bytes(digest)).digest()


def _text(v):
    return v if type(v) is bytes else b"%d" % v if type(v) is int else bytes(v)


_TYPE_IDS = {bytes: 0, int: 0, list: 1, set: 2, ZSet: 3, dict: 4, Stream: 6}


def _value_digest(db, key, value, digest):
    """xorObjectDigest: the type, then the value, then an expire marker."""
    value = expand(value)
    t = type(value)
    type_id = _TYPE_IDS.get(t)
    if type_id is None:
        type_id = 1 if hasattr(value, "appendleft") else None
    if type_id is None:
        raise CommandError("ERR DEBUG DIGEST: a value of an unknown type")
    _mix(digest, struct.pack(">I", type_id))
    if type_id == 0:
        _mix(digest, _text(value))
    elif type_id == 1:
        for item in value:
            _mix(digest, _text(item))
    elif type_id == 2:
        for member in value:
            _xor(digest, _text(member))
    elif type_id == 6:
        # Entries only, in ID order, each "ms.seq" then its fields and
        # values (consumer groups are not part of Redis's digest).
        for eid, fv in value.entries.items():
            _mix(digest, b"%d.%d" % (eid >> 64, eid & 0xFFFFFFFFFFFFFFFF))
            for x in fv:
                _mix(digest, x)
    elif type_id == 3:
        for member, score in value.score_items():
            ele = bytearray(20)
            _mix(ele, member)
            _mix(ele, b"%.17g" % score)
            _xor(digest, ele)
    else:
        for field, v in value.items():
            ele = bytearray(20)
            _mix(ele, _text(field))
            _mix(ele, _text(v))
            _xor(digest, ele)
    if db.expires and key in db.expires:
        _xor(digest, b"!!expire!!")


@_sub(b"digest", 0)
def _digest(ctx):
    final = bytearray(20)
    for db in ctx.node.keyspace.dbs:
        if not db.data:
            continue
        _mix(final, struct.pack(">I", db.id))
        for key, value in list(db.data.items()):
            d = bytearray(20)
            _mix(d, key)
            _value_digest(db, key, value, d)
            _xor(final, d)
    return Status(final.hex().encode())


@_sub(b"digest-value", 0, 1 << 31)
def _digest_value(ctx, *keys):
    db = ctx.db
    out = []
    for key in keys:
        d = bytearray(20)
        value = db.data.get(key)          # (logically expired keys too, as Redis)
        if value is not None:
            _value_digest(db, key, value, d)
        out.append(Status(d.hex().encode()))
    return out


# -- RELOAD / LOADAOF ------------------------------------------------------------------

@_sub(b"reload", 0, 1 << 31)
def _reload(ctx, *options):
    flush = save = True
    merge = False
    for opt in options:
        o = opt.lower()
        if o == b"merge":
            merge = True
        elif o == b"noflush":
            flush = False
        elif o == b"nosave":
            save = False
        else:
            raise CommandError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE "
                               "options.")
    node = ctx.node
    p = node.persistence
    if save and not p.rdb.save():
        raise CommandError("ERR")
    if flush:
        _empty(node)
    # The file's function libraries join those in memory: one of the same
    # name is an error (the load fails) unless MERGE, as Redis's rdbLoad
    # with or without RDBFLAGS_ALLOW_DUP.
    store = store_of(node)

    def join(codes):
        try:
            store.install([store.compile(code) for code in codes], replace=merge)
        except CommandError as e:
            raise rdb.RdbError(e.message, 0) from None
    saved_loader, p.function_loader = p.function_loader, join
    try:
        p.reload_rdb(allow_dup=merge)
    except (rdb.RdbError, OSError) as e:
        log.warning("DEBUG RELOAD failed: %s", e)
        raise CommandError("ERR Error trying to load the RDB dump") from None
    finally:
        p.function_loader = saved_loader
    log.warning("DB reloaded by DEBUG RELOAD")
    return OK


@_sub(b"loadaof", 0)
def _loadaof(ctx):
    p = ctx.node.persistence
    if not p.aof.exists():
        # (Redis exits here: there is nothing to load the dataset from.)
        raise CommandError("ERR DEBUG LOADAOF: there is no AOF to load")
    _empty(ctx.node)
    try:
        p.reload_aof()
    except Exception as e:
        log.warning("DEBUG LOADAOF failed: %s", e)
        raise CommandError("ERR Error trying to load the AOF: %s" % e) from None
    log.warning("Append Only File loaded by DEBUG LOADAOF")
    return OK


def _empty(node):
    """emptyData: every database flushed (WATCHes touched, tracking clients
    told) and the function libraries, not propagated, no save (unlike
    FLUSHALL's hooks)."""
    for db in node.keyspace.dbs:
        if db.data:
            db.flush()
    tracking_flush(node)
    store_of(node).flush()
