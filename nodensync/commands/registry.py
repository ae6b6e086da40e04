"""The command table: one declaration per command, the single source of truth.

``@command`` records name, arity, flags, key positions and documentation.
Dispatch, ``COMMAND``/``COMMAND INFO|DOCS``, ``HELP``, ACL categories,
cluster key extraction and the generated docs all read these specs and
never a command's name.

Arity follows Redis: positive means exactly that many arguments, negative
means at least that many; the command name (and, for a subcommand, the
container name) counts.
"""
import re

from ..storage.compact import canonical_int as string2ll   # (Redis's string2ll: int or None)

# Flags (bit mask for the hot path; names for COMMAND INFO).
WRITE = 1 << 0
READONLY = 1 << 1
DENYOOM = 1 << 2
ADMIN = 1 << 3
PUBSUB = 1 << 4
NOSCRIPT = 1 << 5
BLOCKING = 1 << 6
LOADING = 1 << 7
STALE = 1 << 8
SKIP_MONITOR = 1 << 9
SKIP_SLOWLOG = 1 << 10
FAST = 1 << 11
NO_AUTH = 1 << 12
MAY_REPLICATE = 1 << 13
NO_MULTI = 1 << 14
ALLOW_BUSY = 1 << 15
NO_ASYNC_LOADING = 1 << 16
MOVABLE_KEYS = 1 << 17
SENTINEL = 1 << 18
NO_MANDATORY_KEYS = 1 << 19
ASKING = 1 << 20          # accepted on an IMPORTING slot without ASKING (RESTORE-ASKING)
# (internal, never shown) the flags of a call come from ``command_flags``:
# EVAL/FCALL take the ones their script declares (Redis's getCommandFlags)
DYNAMIC_FLAGS = 1 << 21

# Names COMMAND INFO shows (Redis keeps may_replicate internal).
FLAG_NAMES = [
    (WRITE, "write"), (READONLY, "readonly"), (DENYOOM, "denyoom"),
    (ADMIN, "admin"), (PUBSUB, "pubsub"), (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"), (LOADING, "loading"), (STALE, "stale"),
    (SKIP_MONITOR, "skip_monitor"), (SKIP_SLOWLOG, "skip_slowlog"), (ASKING, "asking"),
    (FAST, "fast"), (NO_AUTH, "no_auth"),
    (NO_MULTI, "no_multi"), (ALLOW_BUSY, "allow_busy"),
    (NO_MANDATORY_KEYS, "no_mandatory_keys"), (MOVABLE_KEYS, "movablekeys"),
]

# Redis's command groups and the ACL category each implies.
GROUP_CATEGORY = {
    "string": "string", "generic": "keyspace", "hash": "hash", "list": "list",
    "set": "set", "sorted_set": "sortedset", "pubsub": "pubsub",
    "transactions": "transaction", "connection": "connection",
    "server": None, "cluster": None, "scripting": "scripting",
    "bitmap": "bitmap", "hyperloglog": "hyperloglog", "geo": "geo", "stream": "stream",
}

ALL_CATEGORIES = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
    "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
    "blocking", "dangerous", "connection", "transaction", "scripting",
]


class CommandSpec:
    """Everything the server knows about one command or subcommand."""

    __slots__ = ("min_args", "max_args", "name", "fullname", "handler", "_arity", "flags", "first_key",
                 "last_key", "key_step", "keys_fn", "group", "summary", "syntax",
                 "since", "complexity", "categories", "subcommands", "parent",
                 "propagate", "stats", "doc_flags", "inline", "hist", "fast",
                 "hub_safe", "command_flags", "monitor_first")

    def __init__(self, name, handler, arity, flags, keys, group, summary, syntax,
                 since, complexity, categories, parent):
        self.name = name
        self.parent = parent
        self.fullname = "%s|%s" % (parent.name, name) if parent else name
        self.handler = handler
        self.arity = arity
        self.flags = flags
        self.keys_fn = None
        if callable(keys):
            self.keys_fn = keys
            self.flags |= MOVABLE_KEYS
            # COMMAND's legacy first/last/step for a movable-keys command
            # (e.g. ZUNIONSTORE's destination: 1 1 1), if the finder has one.
            keys = getattr(keys, "legacy", (0, 0, 0))
        self.first_key, self.last_key, self.key_step = keys
        self.group = group
        self.summary = summary
        self.syntax = syntax
        self.since = since
        self.complexity = complexity
        self.categories = _categories(flags, group, categories)
        self.subcommands = None
        # True when the client loop may run it on its inline fast path:
        # a plain command (no subcommands) with a handler.  Blocking commands
        # go through dispatch.call, which discounts their wait (server/blocking.py).
        self.inline = handler is not None and not flags & BLOCKING
        # True when the event loop itself may run it for a client
        # (server/client.py _serve_in_hub): a data-type command whose
        # handler never waits (no greenlet switch).  KEYS works in paced
        # slices and MIGRATE talks to another server: not these.
        # (Only inline commands are run there: see client._hub_specs.)
        self.hub_safe = ((group in HUB_SAFE_GROUPS or name in HUB_SAFE_NAMES)
                         and name not in HUB_UNSAFE_NAMES)
        self.propagate = True
        # fn(node, spec, argv) -> the flags this call has, for a command whose
        # flags depend on its arguments (EVAL of a script declaring
        # no-writes: Redis's getCommandFlags); None: always ``flags``.
        self.command_flags = None
        # MONITOR shows it before it runs (EVAL, FCALL: before the commands
        # their script runs), though it is SKIP_MONITOR for the usual feed.
        self.monitor_first = False
        # [calls, usec, rejected_calls, failed_calls]: kept here so the hot
        # path updates a list it already holds instead of looking one up.
        self.stats = [0, 0, 0, 0]
        # Latency histogram counts (observability/metrics.py) while
        # latency-tracking is on, else None: index us < 32, else
        # hist_bucket(us).
        self.hist = None
        # Calls the client loop's inline path counted by duration, one
        # counter per whole microsecond under FAST_STAT_US (and under the
        # slow log threshold: node.stat_fast_ns): one increment per command
        # instead of calls, usec and histogram updates.  settle_stats()
        # moves them into ``stats`` and ``hist`` before anyone reads those.
        self.fast = [0] * FAST_STAT_US

    @property
    def arity(self):
        return self._arity

    @arity.setter
    def arity(self, arity):
        # Also as the range of argument counts (the name included) it
        # allows: one chained comparison in the client loop.
        self._arity = arity
        self.min_args = arity if arity > 0 else -arity
        self.max_args = arity if arity > 0 else 1 << 62

    def flag_names(self):
        return [n for bit, n in FLAG_NAMES if self.flags & bit]

    def key_positions(self, argv):
        """Indices in argv (argv[0] is the command, or the container for a
        subcommand) of every key argument."""
        if self.keys_fn is not None:
            return self.keys_fn(argv)
        first = self.first_key
        if first == 0:
            return []
        last = self.last_key
        if last < 0:
            last = len(argv) + last
        return list(range(first, min(last, len(argv) - 1) + 1, self.key_step))

    def keys(self, argv):
        return [argv[i] for i in self.key_positions(argv)]

    def check_arity(self, argc):
        arity = self.arity
        return argc == arity if arity > 0 else argc >= -arity

    def usage(self):
        words = (self.parent.name + " " + self.name) if self.parent else self.name
        return ("%s %s" % (words.upper(), self.syntax)).strip()


def dynamic_flags(spec, fn):
    """Give ``spec`` flags that depend on its arguments: ``fn(node, spec,
    argv)`` returns them for one call (EVAL/FCALL: what the script declares,
    Redis's getCommandFlags).  The DYNAMIC_FLAGS bit sends such a command
    through dispatch's checks when writes are gated."""
    spec.command_flags = fn
    spec.flags |= DYNAMIC_FLAGS


def call_flags(node, spec, argv):
    """The flags this call of ``spec`` (with ``argv``) has."""
    if spec.flags & DYNAMIC_FLAGS and argv is not None:
        return spec.command_flags(node, spec, argv)
    return spec.flags


HUB_SAFE_GROUPS = frozenset(["string", "hash", "list", "set", "sorted_set", "bitmap",
                             "hyperloglog", "geo", "generic", "stream"])
HUB_SAFE_NAMES = frozenset(["ping", "echo"])
HUB_UNSAFE_NAMES = frozenset(["keys", "migrate", "wait", "waitaof"])

FAST_STAT_US = 32     # (the histogram's exact per-microsecond buckets)
_FAST_WEIGHTS = range(FAST_STAT_US)


def settle_stats(specs=None):
    """Fold every command's ``fast`` counts into its ``stats`` (calls,
    usec) and, while latency-tracking is on, its histogram.  Called by
    whatever reads the figures (INFO, /metrics, latency-tracking changes)."""
    for spec in (all_specs(include_subcommands=True) if specs is None else specs):
        f = spec.fast
        if any(f):
            st = spec.stats
            st[0] += sum(f)
            st[1] += sum(map(int.__mul__, f, _FAST_WEIGHTS))
            h = spec.hist
            if h is not None:
                h[:FAST_STAT_US] = map(int.__add__, h[:FAST_STAT_US], f)
            f[:] = _ZEROS


_ZEROS = (0,) * FAST_STAT_US


def hist_bucket(us):
    """Index in ``CommandSpec.hist`` of a latency of ``us`` >= 32 microseconds:
    16 log-linear buckets per power of two (under 32 us the index is ``us``)."""
    if us >= 1 << 36:
        us = (1 << 36) - 1
    b = us.bit_length()
    return ((b - 4) << 4) | ((us >> (b - 5)) & 15)


def _categories(flags, group, extra):
    cats = []
    cat = GROUP_CATEGORY.get(group)
    if cat:
        cats.append(cat)
    if flags & WRITE:
        cats.append("write")
    if flags & READONLY and group != "scripting":
        cats.append("read")
    if flags & ADMIN:
        cats.extend(["admin", "dangerous"])
    if flags & PUBSUB:
        cats.append("pubsub")
    if flags & FAST:
        cats.append("fast")
    if flags & BLOCKING:
        cats.append("blocking")
    if not flags & FAST:
        cats.append("slow")
    for c in extra or ():
        if c not in cats:
            cats.append(c)
    return cats


COMMANDS = {}   # lowercase name (str) -> CommandSpec
LOOKUP = {}     # name as bytes, lower and upper case -> CommandSpec (hot path)
DECLARED = [0]  # commands + subcommands declared so far (caches compare it)


def command(name, arity, flags=0, keys=(0, 0, 0), group="generic", syntax="",
            since="1.0.0", complexity=None, categories=(), summary=None):
    """Declare a command (``"get"``) or a subcommand (``"config|get"``).

    The handler's docstring's first line is the command's summary.
    """
    def register(fn):
        # A docstring's first line loses its final period (most of Redis's
        # summaries have none); an explicit summary= is taken verbatim.
        doc = summary or (fn.__doc__ or "").strip().split("\n")[0].rstrip(".")
        if "|" in name:
            parent_name, sub = name.split("|", 1)
            parent = COMMANDS[parent_name]
            spec = CommandSpec(sub, fn, arity, flags, keys, group, doc, syntax,
                               since, complexity, categories, parent)
            parent.subcommands[sub] = spec
            DECLARED[0] += 1
        else:
            spec = CommandSpec(name, fn, arity, flags, keys, group, doc, syntax,
                               since, complexity, categories, None)
            _install(spec)
        fn.spec = spec
        return fn
    return register


def container(name, group="server", since="2.0.0", summary="", flags=0):
    """Declare a command that only has subcommands (CONFIG, CLIENT, ...)."""
    spec = CommandSpec(name, None, -2, flags, (0, 0, 0), group, summary.rstrip("."),
                       "<subcommand> [args]",
                       since, None, (), None)
    spec.subcommands = {}
    spec.inline = False
    # Redis puts containers in @slow only: their group's category belongs to
    # the subcommands (ACL +@connection must not grant every CLIENT subcommand).
    spec.categories = ["slow"]
    _install(spec)
    return spec


def _install(spec):
    if spec.name in COMMANDS:
        raise ValueError("command %s declared twice" % spec.name)
    COMMANDS[spec.name] = spec
    DECLARED[0] += 1
    b = spec.name.encode()
    LOOKUP[b] = spec
    LOOKUP[b.upper()] = spec


def alias(name, target):
    """Register another name for an existing spec (SLAVEOF -> REPLICAOF style
    aliases are separate commands in Redis, so this is only for internal use)."""
    LOOKUP[name.encode()] = COMMANDS[target]
    LOOKUP[name.encode().upper()] = COMMANDS[target]


REMOVED = set()   # specs rename-command took out of LOOKUP (renamed to "")


def check_renames(pairs):
    """Redis's checks of its rename-command lines, in order, without
    renaming anything: ValueError with Redis's message when an ``old`` name
    (bytes) is no command (or a subcommand) or a ``new`` one is taken."""
    names = {k.lower() for k in LOOKUP}
    for old, new in pairs:
        spec = lookup(old)
        if old.lower() not in names or (spec is not None and spec.parent is not None):
            raise ValueError("No such command in rename-command")
        names.discard(old.lower())
        if new:
            if new.lower() in names:
                raise ValueError("Target command name already exists")
            names.add(new.lower())


def rename_commands(pairs):
    """Redis's rename-command, at start: the command clients call ``old``
    (bytes, any case) answers to ``new`` instead, or to nothing when
    ``new`` is empty, for each (old, new) of ``pairs`` (check_renames
    first).  Only the client-facing table (LOOKUP) changes: COMMANDS stays
    the declared table, which ACL rules name, as Redis's orig_commands."""
    check_renames(pairs)
    for old, new in pairs:
        spec = lookup(old)
        for name in [k for k, v in LOOKUP.items() if v is spec and k.lower() == old.lower()]:
            del LOOKUP[name]
        if new:
            LOOKUP[new.lower()] = LOOKUP[new.upper()] = spec
        else:
            REMOVED.add(spec)
    DECLARED[0] += 1          # (caches built from the tables are stale)


def visible_specs():
    """The commands COMMAND, COMMAND COUNT/LIST/DOCS show: every declared
    one but those rename-command removed (a renamed one keeps its name
    there, as in Redis)."""
    for spec in COMMANDS.values():
        if spec not in REMOVED:
            yield spec


def lookup(name):
    """The spec for a command name given by a client (any case), or None."""
    spec = LOOKUP.get(name)
    if spec is None and type(name) is bytes:
        spec = LOOKUP.get(name.lower())
    return spec


def all_specs(include_subcommands=False):
    for spec in COMMANDS.values():
        yield spec
        if include_subcommands and spec.subcommands:
            yield from spec.subcommands.values()


_LONG_MIN, _LONG_MAX = -2 ** 63, 2 ** 63 - 1


def int32(v):
    """C's (int) of a 64-bit value: its low 32 bits, signed."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def c_atoi(b):
    """C's atoi as glibc computes it: (int)strtol(s, NULL, 10) -- leading
    white space, a sign, the digits up to the first other byte (0 if none),
    clamped to a long, then cut to 32 bits."""
    m = re.match(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)", b)
    return int32(min(max(int(m.group(1)), _LONG_MIN), _LONG_MAX)) if m else 0


def keys_after_numkeys(numkeys_index, extra_first=None):
    """Key finder for commands shaped ``CMD [dest] numkeys key [key ...]``,
    exactly as Redis finds their keys (cluster routing, ACL key checks,
    COMMAND GETKEYS): first by the key specs -- the count parsed by
    string2ll, cut to an int, every key inside the arguments: the
    destination, then the keys -- and where they fail by the command's
    getkeys procedure (genericGetKeys): the count read with atoi, none
    below 1 or past the arguments, the keys then the destination.

    ``numkeys_index`` is the argv index of numkeys; ``extra_first`` an argv
    index of a key before it (a destination key), if any."""
    def find(argv):
        argc = len(argv)
        first = numkeys_index + 1
        if numkeys_index >= argc:
            return []
        n = string2ll(argv[numkeys_index])
        if n is not None and n >= 0:
            last = first + int32(n) - 1
            if first <= last < argc:
                keys = list(range(first, last + 1))
                return keys if extra_first is None else [extra_first] + keys
        num = c_atoi(argv[numkeys_index])
        if num < 1 or num > argc - first:
            return []
        keys = list(range(first, first + num))
        return keys if extra_first is None else keys + [extra_first]
    if extra_first is not None:
        find.legacy = (extra_first, extra_first, 1)
    find.getkeys_proc = True
    return find
