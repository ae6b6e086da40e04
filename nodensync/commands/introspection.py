"""COMMAND and HELP, generated from the registry (never hand-written)."""
from .. import errors
from ..errors import CommandError
from ..protocol.resp import OrderedSet, Status, status_lines
from . import registry
from .registry import (command, container, LOADING, STALE, SENTINEL, WRITE, READONLY, DENYOOM,
                       ADMIN, PUBSUB, NOSCRIPT, BLOCKING, SKIP_MONITOR, SKIP_SLOWLOG, FAST,
                       NO_AUTH, NO_MANDATORY_KEYS, NO_ASYNC_LOADING, NO_MULTI, MOVABLE_KEYS,
                       ALLOW_BUSY, ASKING)
from .util import glob_match

G = "server"


# COMMAND INFO lists flags in this order; may_replicate and sentinel are
# hidden, as in Redis 7.0 (addReplyFlagsForCommand).
_INFO_FLAGS = [(bit, Status(name.encode())) for bit, name in (
    (WRITE, "write"), (READONLY, "readonly"), (DENYOOM, "denyoom"), (ADMIN, "admin"),
    (PUBSUB, "pubsub"), (NOSCRIPT, "noscript"), (BLOCKING, "blocking"), (LOADING, "loading"),
    (STALE, "stale"), (SKIP_MONITOR, "skip_monitor"), (SKIP_SLOWLOG, "skip_slowlog"),
    (ASKING, "asking"),
    (FAST, "fast"), (NO_AUTH, "no_auth"), (NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (NO_ASYNC_LOADING, "no_async_loading"), (NO_MULTI, "no_multi"),
    (MOVABLE_KEYS, "movablekeys"), (ALLOW_BUSY, "allow_busy"))]
_KEY_FLAG_ORDER = ("RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
                   "incomplete", "variable_flags")
_CATEGORY_STATUS = [(c, Status(b"@" + c.encode())) for c in registry.ALL_CATEGORIES]


class KeySpec:
    """One Redis 7.0 key spec: flags, begin_search, find_keys (and notes)."""
    __slots__ = ("flags", "bs", "fk", "notes")

    def __init__(self, flags, bs, fk, notes=None):
        self.flags = flags   # tuple of names in Redis's order
        self.bs = bs         # ("index", pos) | ("keyword", word, startfrom) | ("unknown",)
        self.fk = fk         # ("range", lastkey, step, limit) | ("keynum", idx, first, step) | ("unknown",)
        self.notes = notes

    def reply(self):
        out = {}
        if self.notes:
            out[b"notes"] = self.notes.encode()
        out[b"flags"] = OrderedSet(Status(f.encode()) for f in self.flags)
        bs, fk = self.bs, self.fk
        if bs[0] == "index":
            out[b"begin_search"] = {b"type": b"index", b"spec": {b"index": bs[1]}}
        elif bs[0] == "keyword":
            out[b"begin_search"] = {b"type": b"keyword", b"spec": {
                b"keyword": bs[1].encode(), b"startfrom": bs[2]}}
        else:
            out[b"begin_search"] = {b"type": b"unknown", b"spec": {}}
        if fk[0] == "range":
            out[b"find_keys"] = {b"type": b"range", b"spec": {
                b"lastkey": fk[1], b"keystep": fk[2], b"limit": fk[3]}}
        elif fk[0] == "keynum":
            out[b"find_keys"] = {b"type": b"keynum", b"spec": {
                b"keynumidx": fk[1], b"firstkey": fk[2], b"keystep": fk[3]}}
        else:
            out[b"find_keys"] = {b"type": b"unknown", b"spec": {}}
        return out


def _parse_spec(name, i, text):
    flags, bs, fk = text.split("|")
    if bs[0] == "i":
        bs = ("index", int(bs[1:]))
    elif bs[0] == "k":
        word, start = bs[1:].rsplit(",", 1)
        bs = ("keyword", word, int(start))
    else:
        bs = ("unknown",)
    if fk[0] in "rn":
        fk = ("range" if fk[0] == "r" else "keynum",) + tuple(int(x) for x in fk[1:].split(","))
    else:
        fk = ("unknown",)
    return KeySpec(tuple(flags.split()), bs, fk, _KEY_SPEC_NOTES.get((name, i)))


_parsed_specs = {}


def key_specs(spec):
    """The key specs Redis 7.0 declares for this command; for a command
    Redis does not have, specs derived from the registry's key positions."""
    name = spec.fullname
    found = _parsed_specs.get(name)
    if found is not None:
        return found
    text = _KEY_SPECS.get(name)
    if text is not None:
        found = [_parse_spec(name, i, t) for i, t in enumerate(text.split(";"))]
    elif spec.keys_fn is not None:
        found = [KeySpec((), ("unknown",), ("unknown",))]
    elif not spec.first_key:
        found = []
    else:
        if spec.flags & WRITE:
            flags = ("RW", "update")
        elif spec.flags & READONLY:
            flags = ("RO", "access")
        else:
            flags = ("RW", "access")
        last = spec.last_key
        lastkey = last if last < 0 else last - spec.first_key
        found = [KeySpec(flags, ("index", spec.first_key), ("range", lastkey, spec.key_step, 0))]
    _parsed_specs[name] = found
    return found


def command_info(spec):
    """One COMMAND / COMMAND INFO entry, as Redis 7.0 writes it."""
    flags = spec.flags
    cats = spec.categories
    return [
        spec.fullname.encode(),
        spec.arity,
        OrderedSet(name for bit, name in _INFO_FLAGS if flags & bit),
        spec.first_key,
        spec.last_key,
        spec.key_step,
        OrderedSet(status for c, status in _CATEGORY_STATUS if c in cats),
        OrderedSet(t.encode() for t in _TIPS.get(spec.fullname, "").split()),
        OrderedSet(ks.reply() for ks in key_specs(spec)),
        ([command_info(s) for s in spec.subcommands.values()] if spec.subcommands
         else OrderedSet()),
    ]


def command_docs(spec):
    doc = {b"summary": spec.summary.encode(), b"since": spec.since.encode(),
           b"group": spec.group.replace("_", "-").encode()}   # "sorted-set" as Redis
    if spec.complexity:
        doc[b"complexity"] = spec.complexity.encode()
    if spec.subcommands:
        doc[b"subcommands"] = {s.fullname.encode(): command_docs(s)
                               for s in spec.subcommands.values()}
    return doc


def container_help(name):
    """The HELP text of a container command (CONFIG HELP, CLIENT HELP ...)."""
    spec = registry.COMMANDS[name]
    lines = ["%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name.upper()]
    for sub in sorted(spec.subcommands.values(), key=lambda s: (s.name == "help", s.name)):
        lines.append(("%s %s" % (sub.name.upper(), sub.syntax)).strip())
        lines.append("    %s" % (sub.summary.rstrip(".") + "."))
    return status_lines(lines)


container("command", group=G, since="2.8.13", summary="Get array of Redis command details.",
          flags=LOADING | STALE | SENTINEL)
registry.COMMANDS["command"].arity = -1
registry.COMMANDS["command"].categories = ["slow", "connection"]   # as Redis 7.0


def _command_all(ctx, *args):
    if args:
        spec = registry.COMMANDS["command"]
        raise errors.unknown_subcommand(args[0], spec.name)
    return [command_info(s) for s in registry.visible_specs()]


# COMMAND with no subcommand lists every command: give the container a handler.
registry.COMMANDS["command"].handler = _command_all


@command("command|count", arity=2, flags=LOADING | STALE, group=G,
         categories=("connection",), since="2.8.13", syntax="")
def command_count(ctx):
    """Get total number of Redis commands."""
    return sum(1 for _ in registry.visible_specs())


@command("command|info", summary='Get array of specific Redis command details, or all when no argument is given.', arity=-2, flags=LOADING | STALE, group=G,
         categories=("connection",), since="2.8.13",
         syntax="[command-name [command-name ...]]")
def command_info_cmd(ctx, *names):
    """Get array of specific Redis command details, or all when no argument is given."""
    if not names:
        return [command_info(s) for s in registry.visible_specs()]
    out = []
    for n in names:
        spec = _find(n)
        out.append(command_info(spec) if spec else None)
    return out


def _find(name):
    text = name.decode("utf-8", "replace").lower()
    if "|" in text:
        parent, sub = text.split("|", 1)
        p = registry.LOOKUP.get(parent.encode("utf-8", "replace"))
        return p.subcommands.get(sub) if p and p.subcommands else None
    return registry.LOOKUP.get(text.encode("utf-8", "replace"))     # (rename-command's names)


@command("command|docs", arity=-2, flags=LOADING | STALE, group=G,
         categories=("connection",), since="7.0.0",
         syntax="[command-name [command-name ...]]")
def command_docs_cmd(ctx, *names):
    """Get array of specific Redis command documentation."""
    specs = [_find(n) for n in names] if names else list(registry.visible_specs())
    return {s.fullname.encode(): command_docs(s) for s in specs if s is not None}


@command("command|list", arity=-2, flags=LOADING | STALE, group=G,
         categories=("connection",), since="7.0.0",
         syntax="[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]")
def command_list(ctx, *args):
    """Get an array of Redis command names."""
    specs = []
    for s in registry.visible_specs():
        specs.append(s)
        if s.subcommands:
            specs.extend(s.subcommands.values())
    names = [s.fullname for s in specs]
    if args:
        if len(args) != 3 or args[0].lower() != b"filterby":
            raise CommandError(errors.SYNTAX)
        kind, value = args[1].lower(), args[2]
        if kind == b"module":
            names = []
        elif kind == b"aclcat":
            cat = value.decode("utf-8", "replace").lower()
            names = [s.fullname for s in specs if cat in s.categories]
        elif kind == b"pattern":
            names = [n for n in names if glob_match(value.lower(), n.encode())]
        else:
            raise CommandError(errors.SYNTAX)
    return [n.encode() for n in names]


def keys_from_specs(specs, argv):
    """Redis's getKeysUsingKeySpecs: [(index, key flags)], or None when a
    spec is unknown, incomplete or does not fit the arguments."""
    argc = len(argv)
    out = []
    for ks in specs:
        if "not_key" in ks.flags:
            continue
        bs = ks.bs
        if bs[0] == "index":
            first = bs[1]
        elif bs[0] == "keyword":
            word = bs[1].lower().encode()
            start = bs[2] if bs[2] > 0 else argc + bs[2]
            end = argc - 1 if bs[2] > 0 else 1
            step = 1 if start <= end else -1
            first = 0
            i = start
            while i != end:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == word:
                    first = i + 1
                    break
                i += step
            if not first:
                continue
        else:
            return None
        fk = ks.fk
        if fk[0] == "range":
            _, lastkey, step, limit = fk
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif fk[0] == "keynum":
            _, idx, firstkey, step = fk
            if idx >= argc or first + idx >= argc:
                return None
            numkeys = registry.string2ll(argv[first + idx])
            if numkeys is None or numkeys < 0:
                return None
            numkeys = registry.int32(numkeys)      # (Redis adds it as an int)
            first += firstkey
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        out.extend((i, ks.flags) for i in range(first, last + 1, step))
        if "incomplete" in ks.flags:
            return None
    return out


def _set_key_flags(argv, pos):
    # Redis's setGetKeys: SET ... GET reads the old value.
    if any(a.lower() == b"get" for a in argv[3:]):
        return ("RW", "access", "update")
    return ("OW", "update")


def _bitfield_key_flags(argv, pos):
    """Redis's bitfieldGetKeys: the key, read-only only when every
    operation is a complete GET (or OVERFLOW)."""
    readonly = True
    i, argc = 2, len(argv)
    while i < argc:
        word, left = argv[i].lower(), argc - i - 1
        if word == b"get" and left >= 2:
            i += 3
        elif word == b"overflow" and left >= 1:
            i += 2
        else:
            readonly = False        # (SET/INCRBY, or a syntax error: assume it writes)
            break
    return ("RO", "access") if readonly else ("RW", "access", "update")


# Commands whose keys Redis finds with a getkeys procedure instead of the
# specs: the flags that procedure reports for the key at argv[pos] (0 for
# the generic ones).
_PROC_KEY_FLAGS = {
    "set": _set_key_flags,
    "migrate": lambda argv, pos: ("RW", "access", "delete"),
    "bitfield": _bitfield_key_flags,
    # sortGetKeys: the sorted key is read, a STORE destination overwritten.
    "sort": lambda argv, pos: ("RO", "access") if pos == 1 else ("OW", "update"),
    "sort_ro": lambda argv, pos: ("RO", "access"),
}


def keys_with_flags(spec, argv):
    """Redis's getKeysFromCommandWithSpecs for a resolved command (argv[0]
    is the command name): [(index, key flags)], empty when none."""
    specs = key_specs(spec)
    found = None
    if (any("not_key" not in ks.flags for ks in specs)
            and not any("variable_flags" in ks.flags for ks in specs)):
        found = keys_from_specs(specs, argv)
    if found is None and getattr(spec.keys_fn, "getkeys_proc", False):
        # (the numkeys commands: their key finder is Redis's whole
        # extraction, specs then genericGetKeys, whose keys carry no flags)
        found = [(i, ()) for i in spec.key_positions(argv)]
    if found is None:
        flags_fn = _PROC_KEY_FLAGS.get(spec.fullname)
        if flags_fn is not None:
            found = [(i, flags_fn(argv, i)) for i in spec.key_positions(argv)]
        elif spec.fullname not in _KEY_SPECS and spec.keys_fn is not None:
            found = [(i, ()) for i in spec.key_positions(argv)]
        else:
            # Redis's generic numkeys procedures fail exactly where the
            # keynum specs do (a count below 1 or past the arguments).
            found = []
    return found


def _getkeys(argv, fullname="command|getkeys"):
    """(spec, [(index, key flags)]) for COMMAND GETKEYS / GETKEYSANDFLAGS,
    following Redis's getKeysSubcommandImpl."""
    if len(argv) < 2:
        # Redis declares arity -3 but requires a command and an argument.
        raise errors.wrong_arity(fullname)
    spec = registry.lookup(argv[0])
    if spec is not None and spec.subcommands and len(argv) > 1:
        spec = spec.subcommands.get(argv[1].lower().decode("utf-8", "replace"))
    if spec is None:
        raise CommandError("ERR Invalid command specified")
    specs = key_specs(spec)
    real = [ks for ks in specs if "not_key" not in ks.flags]
    if not real and spec.keys_fn is None:
        raise CommandError("ERR The command has no key arguments")
    if not spec.check_arity(len(argv)):
        raise CommandError("ERR Invalid number of arguments specified for command")
    found = keys_with_flags(spec, argv)
    if not found:
        if spec.flags & NO_MANDATORY_KEYS:
            return spec, []
        raise CommandError("ERR Invalid arguments specified for command")
    return spec, found


@command("command|getkeys", arity=-4, flags=LOADING | STALE, group=G,
         categories=("connection",), since="2.8.13",
         syntax="command [arg [arg ...]]")
def command_getkeys(ctx, *argv):
    """Extract keys given a full Redis command."""
    spec, found = _getkeys(argv)
    return [argv[i] for i, _ in found]


@command("command|getkeysandflags", arity=-4, flags=LOADING | STALE, group=G,
         categories=("connection",), since="7.0.0",
         syntax="command [arg [arg ...]]")
def command_getkeysandflags(ctx, *argv):
    """Extract keys and access flags given a full Redis command."""
    spec, found = _getkeys(argv, "command|getkeysandflags")
    return [[argv[i], OrderedSet(Status(f.encode()) for f in flags)] for i, flags in found]


@command("command|help", arity=2, flags=LOADING | STALE, group=G,
         categories=("connection",), since="5.0.0", syntax="")
def command_help(ctx):
    """Show helpful text about the different subcommands."""
    return container_help("command")


@command("help", arity=-1, flags=LOADING | STALE, group=G, since="0.1.0",
         syntax="[command-name]", summary="List every command with its syntax and summary (NodeNsync).")
def help_(ctx, *names):
    specs = [_find(n) for n in names] if names else sorted(registry.all_specs(),
                                                             key=lambda s: s.name)
    lines = []
    for s in specs:
        if s is None:
            raise CommandError("ERR unknown command '%s'" % names[0].decode("utf-8", "replace"))
        if s.handler is not None or not s.subcommands:
            lines.append(Status(("%s -- %s" % (s.usage(), s.summary)).encode()))
        for sub in (s.subcommands or {}).values():
            lines.append(Status(("%s -- %s" % (sub.usage(), sub.summary)).encode()))
    return lines


# -- Redis 7.0's key specs and command tips ----------------------------------------
# Taken from Redis 7.0.15's COMMAND output (one entry per command that has
# keys): "flags|begin_search|find_keys" per spec, specs separated by ';'.
# begin_search: iPOS (index) | kKEYWORD,STARTFROM | u (unknown);
# find_keys: rLASTKEY,STEP,LIMIT (range) | nKEYNUMIDX,FIRSTKEY,STEP (keynum) | u.
_KEY_SPECS = {
    'append': 'RW insert|i1|r0,1,0', 'bitcount': 'RO access|i1|r0,1,0',
    'bitfield': 'RW access update variable_flags|i1|r0,1,0', 'bitfield_ro': 'RO access|i1|r0,1,0',
    'bitop': 'OW update|i2|r0,1,0;RO access|i3|r-1,1,0', 'bitpos': 'RO access|i1|r0,1,0',
    'blmove': 'RW access delete|i1|r0,1,0;RW insert|i2|r0,1,0',
    'blmpop': 'RW access delete|i2|n0,1,1', 'blpop': 'RW access delete|i1|r-2,1,0',
    'brpop': 'RW access delete|i1|r-2,1,0',
    'brpoplpush': 'RW access delete|i1|r0,1,0;RW insert|i2|r0,1,0',
    'bzmpop': 'RW access delete|i2|n0,1,1', 'bzpopmax': 'RW access delete|i1|r-2,1,0',
    'bzpopmin': 'RW access delete|i1|r-2,1,0', 'copy': 'RO access|i1|r0,1,0;OW update|i2|r0,1,0',
    'decr': 'RW access update|i1|r0,1,0', 'decrby': 'RW access update|i1|r0,1,0',
    'del': 'RM delete|i1|r-1,1,0', 'dump': 'RO access|i1|r0,1,0',
    'eval': 'RW access update|i2|n0,1,1', 'eval_ro': 'RO access|i2|n0,1,1',
    'evalsha': 'RW access update|i2|n0,1,1', 'evalsha_ro': 'RO access|i2|n0,1,1',
    'exists': 'RO|i1|r-1,1,0', 'expire': 'RW update|i1|r0,1,0', 'expireat': 'RW update|i1|r0,1,0',
    'expiretime': 'RO access|i1|r0,1,0', 'fcall': 'RW access update|i2|n0,1,1',
    'fcall_ro': 'RO access|i2|n0,1,1', 'geoadd': 'RW update|i1|r0,1,0',
    'geodist': 'RO access|i1|r0,1,0', 'geohash': 'RO access|i1|r0,1,0',
    'geopos': 'RO access|i1|r0,1,0',
    'georadius': 'RO access|i1|r0,1,0;OW update|kSTORE,6|r0,1,0;OW update|kSTOREDIST,6|r0,1,0',
    'georadius_ro': 'RO access|i1|r0,1,0',
    'georadiusbymember': 'RO access|i1|r0,1,0;OW update|kSTORE,5|r0,1,0;OW update|kSTOREDIST,5|r0,1,0',
    'georadiusbymember_ro': 'RO access|i1|r0,1,0', 'geosearch': 'RO access|i1|r0,1,0',
    'geosearchstore': 'OW update|i1|r0,1,0;RO access|i2|r0,1,0', 'get': 'RO access|i1|r0,1,0',
    'getbit': 'RO access|i1|r0,1,0', 'getdel': 'RW access delete|i1|r0,1,0',
    'getex': 'RW access update|i1|r0,1,0', 'getrange': 'RO access|i1|r0,1,0',
    'getset': 'RW access update|i1|r0,1,0', 'hdel': 'RW delete|i1|r0,1,0',
    'hexists': 'RO|i1|r0,1,0', 'hget': 'RO access|i1|r0,1,0', 'hgetall': 'RO access|i1|r0,1,0',
    'hincrby': 'RW access update|i1|r0,1,0', 'hincrbyfloat': 'RW access update|i1|r0,1,0',
    'hkeys': 'RO access|i1|r0,1,0', 'hlen': 'RO|i1|r0,1,0', 'hmget': 'RO access|i1|r0,1,0',
    'hmset': 'RW update|i1|r0,1,0', 'hrandfield': 'RO access|i1|r0,1,0',
    'hscan': 'RO access|i1|r0,1,0', 'hset': 'RW update|i1|r0,1,0', 'hsetnx': 'RW insert|i1|r0,1,0',
    'hstrlen': 'RO|i1|r0,1,0', 'hvals': 'RO access|i1|r0,1,0',
    'incr': 'RW access update|i1|r0,1,0', 'incrby': 'RW access update|i1|r0,1,0',
    'incrbyfloat': 'RW access update|i1|r0,1,0', 'lcs': 'RO access|i1|r1,1,0',
    'lindex': 'RO access|i1|r0,1,0', 'linsert': 'RW insert|i1|r0,1,0', 'llen': 'RO|i1|r0,1,0',
    'lmove': 'RW access delete|i1|r0,1,0;RW insert|i2|r0,1,0',
    'lmpop': 'RW access delete|i1|n0,1,1', 'lpop': 'RW access delete|i1|r0,1,0',
    'lpos': 'RO access|i1|r0,1,0', 'lpush': 'RW insert|i1|r0,1,0', 'lpushx': 'RW insert|i1|r0,1,0',
    'lrange': 'RO access|i1|r0,1,0', 'lrem': 'RW delete|i1|r0,1,0', 'lset': 'RW update|i1|r0,1,0',
    'ltrim': 'RW delete|i1|r0,1,0', 'memory|usage': 'RO|i2|r0,1,0', 'mget': 'RO access|i1|r-1,1,0',
    'migrate': 'RW access delete|i3|r0,1,0;RW access delete incomplete|kKEYS,-2|r-1,1,0',
    'move': 'RW access update|i1|r0,1,0', 'mset': 'OW update|i1|r-1,2,0',
    'msetnx': 'OW insert|i1|r-1,2,0', 'object|encoding': 'RO|i2|r0,1,0',
    'object|freq': 'RO|i2|r0,1,0', 'object|idletime': 'RO|i2|r0,1,0',
    'object|refcount': 'RO|i2|r0,1,0', 'persist': 'RW update|i1|r0,1,0',
    'pexpire': 'RW update|i1|r0,1,0', 'pexpireat': 'RW update|i1|r0,1,0',
    'pexpiretime': 'RO access|i1|r0,1,0', 'pfadd': 'RW insert|i1|r0,1,0',
    'pfcount': 'RW access|i1|r-1,1,0', 'pfdebug': 'RW access|i2|r0,1,0',
    'pfmerge': 'RW access insert|i1|r0,1,0;RO access|i2|r-1,1,0', 'psetex': 'OW update|i1|r0,1,0',
    'pttl': 'RO access|i1|r0,1,0', 'rename': 'RW access delete|i1|r0,1,0;OW update|i2|r0,1,0',
    'renamenx': 'RW access delete|i1|r0,1,0;OW insert|i2|r0,1,0', 'restore': 'OW update|i1|r0,1,0',
    'restore-asking': 'OW update|i1|r0,1,0', 'rpop': 'RW access delete|i1|r0,1,0',
    'rpoplpush': 'RW access delete|i1|r0,1,0;RW insert|i2|r0,1,0', 'rpush': 'RW insert|i1|r0,1,0',
    'rpushx': 'RW insert|i1|r0,1,0', 'sadd': 'RW insert|i1|r0,1,0', 'scard': 'RO|i1|r0,1,0',
    'sdiff': 'RO access|i1|r-1,1,0', 'sdiffstore': 'OW update|i1|r0,1,0;RO access|i2|r-1,1,0',
    'set': 'RW access update variable_flags|i1|r0,1,0', 'setbit': 'RW access update|i1|r0,1,0',
    'setex': 'OW update|i1|r0,1,0', 'setnx': 'OW insert|i1|r0,1,0',
    'setrange': 'RW update|i1|r0,1,0', 'sinter': 'RO access|i1|r-1,1,0',
    'sintercard': 'RO access|i1|n0,1,1', 'sinterstore': 'RW update|i1|r0,1,0;RO access|i2|r-1,1,0',
    'sismember': 'RO|i1|r0,1,0', 'smembers': 'RO access|i1|r0,1,0',
    'smismember': 'RO access|i1|r0,1,0', 'smove': 'RW access delete|i1|r0,1,0;RW insert|i2|r0,1,0',
    'sort': 'RO access|i1|r0,1,0;RO access|u|u;OW update|u|u',
    'sort_ro': 'RO access|i1|r0,1,0;RO access|u|u', 'spop': 'RW access delete|i1|r0,1,0',
    'spublish': 'not_key|i1|r0,1,0', 'srandmember': 'RO access|i1|r0,1,0',
    'srem': 'RW delete|i1|r0,1,0', 'sscan': 'RO access|i1|r0,1,0',
    'ssubscribe': 'not_key|i1|r-1,1,0', 'strlen': 'RO|i1|r0,1,0', 'substr': 'RO access|i1|r0,1,0',
    'sunion': 'RO access|i1|r-1,1,0', 'sunionstore': 'OW update|i1|r0,1,0;RO access|i2|r-1,1,0',
    'sunsubscribe': 'not_key|i1|r-1,1,0', 'touch': 'RO|i1|r-1,1,0', 'ttl': 'RO access|i1|r0,1,0',
    'type': 'RO|i1|r0,1,0', 'unlink': 'RM delete|i1|r-1,1,0', 'watch': 'RO|i1|r-1,1,0',
    'xack': 'RW update|i1|r0,1,0', 'xadd': 'RW update|i1|r0,1,0',
    'xautoclaim': 'RW delete|i1|r0,1,0', 'xclaim': 'RW update|i1|r0,1,0',
    'xdel': 'RW delete|i1|r0,1,0', 'xgroup|create': 'RW insert|i2|r0,1,0',
    'xgroup|createconsumer': 'RW insert|i2|r0,1,0', 'xgroup|delconsumer': 'RW delete|i2|r0,1,0',
    'xgroup|destroy': 'RW delete|i2|r0,1,0', 'xgroup|setid': 'RW update|i2|r0,1,0',
    'xinfo|consumers': 'RO access|i2|r0,1,0', 'xinfo|groups': 'RO access|i2|r0,1,0',
    'xinfo|stream': 'RO access|i2|r0,1,0', 'xlen': 'RO|i1|r0,1,0',
    'xpending': 'RO access|i1|r0,1,0', 'xrange': 'RO access|i1|r0,1,0',
    'xread': 'RO access|kSTREAMS,1|r-1,1,2', 'xreadgroup': 'RO access|kSTREAMS,4|r-1,1,2',
    'xrevrange': 'RO access|i1|r0,1,0', 'xsetid': 'RW update|i1|r0,1,0',
    'xtrim': 'RW delete|i1|r0,1,0', 'zadd': 'RW update|i1|r0,1,0', 'zcard': 'RO|i1|r0,1,0',
    'zcount': 'RO access|i1|r0,1,0', 'zdiff': 'RO access|i1|n0,1,1',
    'zdiffstore': 'OW update|i1|r0,1,0;RO access|i2|n0,1,1',
    'zincrby': 'RW access update|i1|r0,1,0', 'zinter': 'RO access|i1|n0,1,1',
    'zintercard': 'RO access|i1|n0,1,1', 'zinterstore': 'OW update|i1|r0,1,0;RO access|i2|n0,1,1',
    'zlexcount': 'RO access|i1|r0,1,0', 'zmpop': 'RW access delete|i1|n0,1,1',
    'zmscore': 'RO access|i1|r0,1,0', 'zpopmax': 'RW access delete|i1|r0,1,0',
    'zpopmin': 'RW access delete|i1|r0,1,0', 'zrandmember': 'RO access|i1|r0,1,0',
    'zrange': 'RO access|i1|r0,1,0', 'zrangebylex': 'RO access|i1|r0,1,0',
    'zrangebyscore': 'RO access|i1|r0,1,0',
    'zrangestore': 'OW update|i1|r0,1,0;RO access|i2|r0,1,0', 'zrank': 'RO access|i1|r0,1,0',
    'zrem': 'RW delete|i1|r0,1,0', 'zremrangebylex': 'RW delete|i1|r0,1,0',
    'zremrangebyrank': 'RW delete|i1|r0,1,0', 'zremrangebyscore': 'RW delete|i1|r0,1,0',
    'zrevrange': 'RO access|i1|r0,1,0', 'zrevrangebylex': 'RO access|i1|r0,1,0',
    'zrevrangebyscore': 'RO access|i1|r0,1,0', 'zrevrank': 'RO access|i1|r0,1,0',
    'zscan': 'RO access|i1|r0,1,0', 'zscore': 'RO access|i1|r0,1,0',
    'zunion': 'RO access|i1|n0,1,1', 'zunionstore': 'OW update|i1|r0,1,0;RO access|i2|n0,1,1',
}
_KEY_SPEC_NOTES = {
    ('bitfield', 0):
        'This command allows both access and modification of the key',
    ('eval', 0):
        'We cannot tell how the keys will be used so we assume the worst, RW and UPDATE',
    ('eval_ro', 0):
        'We cannot tell how the keys will be used so we assume the worst, RO and ACCESS',
    ('fcall', 0):
        'We cannot tell how the keys will be used so we assume the worst, RW and UPDATE',
    ('fcall_ro', 0):
        'We cannot tell how the keys will be used so we assume the worst, RO and ACCESS',
    ('getex', 0):
        'RW and UPDATE because it changes the TTL',
    ('pfcount', 0):
        'RW because it may change the internal representation of the key, and propagate to replicas',
    ('set', 0):
        'RW and ACCESS due to the optional `GET` argument',
    ('sort', 1):
        "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
    ('sort', 2):
        "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
    ('sort_ro', 1):
        "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
    ('xadd', 0):
        'UPDATE instead of INSERT because of the optional trimming feature',
}
_TIPS = {
    'client|info': 'nondeterministic_output', 'client|list': 'nondeterministic_output',
    'cluster|bumpepoch': 'nondeterministic_output',
    'cluster|count-failure-reports': 'nondeterministic_output',
    'cluster|getkeysinslot': 'nondeterministic_output', 'cluster|info': 'nondeterministic_output',
    'cluster|links': 'nondeterministic_output', 'cluster|nodes': 'nondeterministic_output',
    'cluster|replicas': 'nondeterministic_output', 'cluster|shards': 'nondeterministic_output',
    'cluster|slaves': 'nondeterministic_output', 'cluster|slots': 'nondeterministic_output',
    'command': 'nondeterministic_output_order', 'command|docs': 'nondeterministic_output_order',
    'command|info': 'nondeterministic_output_order',
    'command|list': 'nondeterministic_output_order',
    'config|set': 'request_policy:all_nodes response_policy:all_succeeded',
    'dbsize': 'request_policy:all_shards response_policy:agg_sum',
    'del': 'request_policy:multi_shard response_policy:agg_sum', 'dump': 'nondeterministic_output',
    'exists': 'request_policy:multi_shard response_policy:agg_sum',
    'flushall': 'request_policy:all_shards response_policy:all_succeeded',
    'flushdb': 'request_policy:all_shards response_policy:all_succeeded',
    'function|delete': 'request_policy:all_shards response_policy:all_succeeded',
    'function|flush': 'request_policy:all_shards response_policy:all_succeeded',
    'function|kill': 'request_policy:all_shards response_policy:one_succeeded',
    'function|list': 'nondeterministic_output_order',
    'function|load': 'request_policy:all_shards response_policy:all_succeeded',
    'function|restore': 'request_policy:all_shards response_policy:all_succeeded',
    'function|stats': 'nondeterministic_output request_policy:all_shards response_policy:special',
    'hgetall': 'nondeterministic_output_order', 'hkeys': 'nondeterministic_output_order',
    'hrandfield': 'nondeterministic_output', 'hscan': 'nondeterministic_output',
    'hvals': 'nondeterministic_output_order',
    'info': 'nondeterministic_output request_policy:all_shards response_policy:special',
    'keys': 'request_policy:all_shards nondeterministic_output_order',
    'lastsave': 'nondeterministic_output',
    'latency|doctor': 'nondeterministic_output request_policy:all_nodes response_policy:special',
    'latency|graph': 'nondeterministic_output request_policy:all_nodes response_policy:special',
    'latency|histogram': 'nondeterministic_output request_policy:all_nodes response_policy:special',
    'latency|history': 'nondeterministic_output request_policy:all_nodes response_policy:special',
    'latency|latest': 'nondeterministic_output request_policy:all_nodes response_policy:special',
    'latency|reset': 'request_policy:all_nodes response_policy:all_succeeded',
    'memory|doctor': 'nondeterministic_output request_policy:all_shards response_policy:special',
    'memory|malloc-stats': 'nondeterministic_output request_policy:all_shards response_policy:special',
    'memory|purge': 'request_policy:all_shards response_policy:all_succeeded',
    'memory|stats': 'nondeterministic_output request_policy:all_shards response_policy:special',
    'mget': 'request_policy:multi_shard', 'migrate': 'nondeterministic_output',
    'module|list': 'nondeterministic_output_order',
    'mset': 'request_policy:multi_shard response_policy:all_succeeded',
    'msetnx': 'request_policy:multi_shard response_policy:agg_min',
    'object|encoding': 'nondeterministic_output', 'object|freq': 'nondeterministic_output',
    'object|idletime': 'nondeterministic_output', 'object|refcount': 'nondeterministic_output',
    'ping': 'request_policy:all_shards response_policy:all_succeeded',
    'pttl': 'nondeterministic_output',
    'randomkey': 'request_policy:all_shards nondeterministic_output',
    'scan': 'nondeterministic_output request_policy:special',
    'script|exists': 'request_policy:all_shards response_policy:agg_logical_and',
    'script|flush': 'request_policy:all_nodes response_policy:all_succeeded',
    'script|kill': 'request_policy:all_shards response_policy:one_succeeded',
    'script|load': 'request_policy:all_nodes response_policy:all_succeeded',
    'sdiff': 'nondeterministic_output_order', 'sinter': 'nondeterministic_output_order',
    'slowlog|get': 'request_policy:all_nodes nondeterministic_output',
    'slowlog|len': 'request_policy:all_nodes response_policy:agg_sum nondeterministic_output',
    'slowlog|reset': 'request_policy:all_nodes response_policy:all_succeeded',
    'smembers': 'nondeterministic_output_order', 'spop': 'nondeterministic_output',
    'srandmember': 'nondeterministic_output', 'sscan': 'nondeterministic_output',
    'sunion': 'nondeterministic_output_order', 'time': 'nondeterministic_output',
    'touch': 'request_policy:multi_shard response_policy:agg_sum',
    'ttl': 'nondeterministic_output',
    'unlink': 'request_policy:multi_shard response_policy:agg_sum',
    'wait': 'request_policy:all_shards response_policy:agg_min', 'xadd': 'nondeterministic_output',
    'xautoclaim': 'nondeterministic_output', 'xclaim': 'nondeterministic_output',
    'xinfo|consumers': 'nondeterministic_output', 'xpending': 'nondeterministic_output',
    'xtrim': 'nondeterministic_output', 'zrandmember': 'nondeterministic_output',
    'zscan': 'nondeterministic_output',
}
