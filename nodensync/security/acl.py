"""Users, ACL rules, permission checks, authentication and the ACL log.

Redis 7.0's model: each user has flags (on/off, nopass), passwords, the set
of commands it may run (per command and subcommand, with categories as
shorthands), key patterns (``~p`` read+write, ``%R~p`` read, ``%W~p``
write) and channel patterns (``&p``).  Rules use Redis's syntax so that
ACL files written by Redis load unchanged and ``ACL LIST`` / ``ACL SAVE``
describe users the way Redis does (``-@all +@read ...``, computed from the
permission set with Redis's best-fit algorithm).

NodeNsync additions, all optional:

* ``role:admin``, ``role:user``, ``role:readonly`` rules (shorthands that
  expand to ordinary rules, see ``ROLES``).
* Salted slow password hashes (``passwords.py``); ``#<sha256>`` accepted.
* Session tokens (``tokens.py``) usable as ``AUTH user <token>``.
* Failed-login throttling per source address (``LoginThrottle``).

Selectors (``(...)`` rules, Redis 7.0): ``User`` is its own root selector
and keeps the added ones in ``User.selectors``; ``User.check_all`` is
Redis's ACLCheckAllUserCommandPerm.

Hot path: clients whose user may run everything on every key and channel
have ``client.acl_restricted = False`` and dispatch never calls ``check``.
"""
import hmac
import hashlib
import logging
import os
import secrets
import sys
import time
from collections import deque

from .. import errors
from ..errors import CommandError
from ..commands import registry
from ..commands.registry import NO_AUTH, READONLY, WRITE
from ..commands.util import glob_matcher
from . import passwords

log = logging.getLogger("nodensync.acl")

NOPERM_CMD = "NOPERM this user has no permissions to run the '%s' command"
NOPERM_KEY = "NOPERM this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNEL = ("NOPERM this user has no permissions to access one of the channels "
                  "used as arguments")

# Error texts of ACLSetUserStringError (Redis 7.0).
E_SYNTAX = "Syntax error"
E_UNKNOWN = "Unknown command or category name in ACL"
E_KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid "
                    "and does not have any effect. Try 'resetkeys' to start with an empty list "
                    "of patterns")
E_CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is not "
                        "valid and does not have any effect. Try 'resetchannels' to start with an "
                        "empty list of channels")
E_NO_SUCH_PASS = "The password you are trying to remove from the user does not exist"
E_BAD_HASH = ("The password hash must be exactly 64 characters and contain only lowercase "
              "hexadecimal characters")
E_FIRSTARG_SUB = "Allowing first-arg of a subcommand is not supported"
E_ROLE = "Unknown role (known roles: admin, user, readonly)"

# Role shorthands (NodeNsync): expanded into ordinary rules when applied, so
# ACL LIST / ACL SAVE show plain Redis rules that real Redis can load.
ROLES = {
    "admin": ["~*", "&*", "+@all"],
    "user": ["~*", "&*", "+@all", "-@admin", "-@dangerous"],
    "readonly": ["~*", "resetchannels", "-@all", "+@read", "+@connection", "-@admin",
                 "-@dangerous"],
}

READ = 1
WRITE_PERM = 2
ALL_PERM = 3

# Key permissions each command needs, per key spec, from Redis 7.0.15's
# key-spec flags (1 = read: ACCESS, 2 = write: INSERT/DELETE/UPDATE, 3 = both,
# 0 = any pattern).  Generated from ``COMMAND`` of redis-server 7.0.15.
_KEY_PERMS_TEXT = (
    "append:2 bitcount:1 bitfield:3 bitfield_ro:1 bitop:21 bitpos:1 blmove:32 "
    "blmpop:3 blpop:3 brpop:3 brpoplpush:32 bzmpop:3 bzpopmax:3 bzpopmin:3 copy:12 "
    "decr:3 decrby:3 del:2 dump:1 eval:3 eval_ro:1 evalsha:3 evalsha_ro:1 exists:0 "
    "expire:2 expireat:2 expiretime:1 fcall:3 fcall_ro:1 geoadd:2 geodist:1 geohash:1 "
    "geopos:1 georadius:122 georadius_ro:1 georadiusbymember:122 "
    "georadiusbymember_ro:1 geosearch:1 geosearchstore:21 get:1 getbit:1 getdel:3 "
    "getex:3 getrange:1 getset:3 hdel:2 hexists:0 hget:1 hgetall:1 hincrby:3 "
    "hincrbyfloat:3 hkeys:1 hlen:0 hmget:1 hmset:2 hrandfield:1 hscan:1 hset:2 "
    "hsetnx:2 hstrlen:0 hvals:1 incr:3 incrby:3 incrbyfloat:3 lcs:1 lindex:1 "
    "linsert:2 llen:0 lmove:32 lmpop:3 lpop:3 lpos:1 lpush:2 lpushx:2 lrange:1 lrem:2 "
    "lset:2 ltrim:2 memory|usage:0 mget:1 migrate:33 move:3 mset:2 msetnx:2 "
    "object|encoding:0 object|freq:0 object|idletime:0 object|refcount:0 persist:2 "
    "pexpire:2 pexpireat:2 pexpiretime:1 pfadd:2 pfcount:1 pfdebug:1 pfmerge:31 "
    "psetex:2 pttl:1 rename:32 renamenx:32 restore:2 restore-asking:2 rpop:3 "
    "rpoplpush:32 rpush:2 rpushx:2 sadd:2 scard:0 sdiff:1 sdiffstore:21 set:3 "
    "setbit:3 setex:2 setnx:2 setrange:2 sinter:1 sintercard:1 sinterstore:21 "
    "sismember:0 smembers:1 smismember:1 smove:32 sort:112 sort_ro:11 spop:3 "
    "srandmember:1 srem:2 sscan:1 strlen:0 substr:1 sunion:1 "
    "sunionstore:21 touch:0 ttl:1 type:0 unlink:2 watch:0 xack:2 "
    "xadd:2 xautoclaim:2 xclaim:2 xdel:2 xgroup|create:2 xgroup|createconsumer:2 "
    "xgroup|delconsumer:2 xgroup|destroy:2 xgroup|setid:2 xinfo|consumers:1 "
    "xinfo|groups:1 xinfo|stream:1 xlen:0 xpending:1 xrange:1 xread:1 xreadgroup:1 "
    "xrevrange:1 xsetid:2 xtrim:2 zadd:2 zcard:0 zcount:1 zdiff:1 zdiffstore:21 "
    "zincrby:3 zinter:1 zintercard:1 zinterstore:21 zlexcount:1 zmpop:3 zmscore:1 "
    "zpopmax:3 zpopmin:3 zrandmember:1 zrange:1 zrangebylex:1 zrangebyscore:1 "
    "zrangestore:21 zrank:1 zrem:2 zremrangebylex:2 zremrangebyrank:2 "
    "zremrangebyscore:2 zrevrange:1 zrevrangebylex:1 zrevrangebyscore:1 zrevrank:1 "
    "zscan:1 zscore:1 zunion:1 zunionstore:21")
KEY_PERMS = {name: tuple(int(c) for c in digits)
             for name, digits in (item.split(":") for item in _KEY_PERMS_TEXT.split())}
# Commands whose "keys" are channels (Redis flags them NOT_KEY): ACL checks
# them as channels, never as keys.
NOT_KEY_COMMANDS = frozenset(["spublish", "ssubscribe", "sunsubscribe"])
# Commands with channel arguments: name -> (first index, all following?, literal?)
CHANNEL_COMMANDS = {"publish": (1, False, False), "spublish": (1, False, False),
                    "subscribe": (1, True, False), "ssubscribe": (1, True, False),
                    "psubscribe": (1, True, True)}

USER_FLAG_ORDER = ("on", "off", "nopass", "skip-sanitize-payload", "sanitize-payload")


# Redis 7.0 commands NodeNsync did not implement.  An ACL rule naming one
# that is still missing (`-pfselftest` in ACL files written for Redis) is
# accepted and has no effect: there is nothing to allow or deny.
REDIS_ONLY_COMMANDS = frozenset("""
pfselftest
xack xadd xautoclaim xclaim xdel xgroup xinfo xlen xpending xrange xread xreadgroup xrevrange
xsetid xtrim
""".split())


def _redis_only(name):
    """A rule's command name (``cmd`` or ``cmd|sub``) that only Redis has
    (the registry decides: a command of the list implemented since, such as
    the stream commands, is a real rule)."""
    base = name.decode("latin-1").lower().partition("|")[0]
    return base in REDIS_ONLY_COMMANDS and index().lookup(base) is None


class RuleError(Exception):
    """A rule that cannot be applied; ``str(e)`` is Redis's reason text."""


# -- the command index --------------------------------------------------------------
class CommandIndex:
    """Every command and subcommand of the registry, in registry order, and
    the members of each ACL category (built once, rebuilt if the registry
    grew)."""

    def __init__(self):
        self.size = -1
        self.refresh()

    def refresh(self):
        commands = registry.COMMANDS
        n = sum(1 + len(s.subcommands or ()) for s in commands.values())
        if n == self.size:
            return self
        self.size = n
        self.top = list(commands.values())
        self.all = []
        for spec in self.top:
            self.all.append(spec)
            if spec.subcommands:
                self.all.extend(spec.subcommands.values())
        self.by_category = {c: set() for c in registry.ALL_CATEGORIES}
        for spec in self.all:
            for c in spec.categories:
                if c in self.by_category:
                    self.by_category[c].add(spec)
        self.all_set = frozenset(self.all)
        return self

    def lookup(self, name):
        """A command or ``container|sub`` name (case-insensitive) -> spec."""
        name = name.lower()
        base, sep, sub = name.partition("|")
        spec = registry.COMMANDS.get(base)
        if spec is None:
            return None
        if not sep:
            return spec
        if not spec.subcommands or "|" in sub:
            return None
        return spec.subcommands.get(sub)


_INDEX = None


def index():
    global _INDEX
    if _INDEX is None:
        _INDEX = CommandIndex()
    return _INDEX.refresh()


def _change_perm(allowed, firstargs, spec, allow):
    """ACLChangeSelectorPerm: a command and, for a container, all of its
    subcommands.  Returns False when a permission was removed."""
    firstargs.pop(spec, None)
    if allow:
        allowed.add(spec)
        if spec.subcommands:
            allowed.update(spec.subcommands.values())
    else:
        allowed.discard(spec)
        if spec.subcommands:
            allowed.difference_update(spec.subcommands.values())


def _apply_category(allowed, firstargs, category, allow):
    """``+@cat`` / ``-@cat`` exactly as Redis walks its command table:
    matching commands (with their subcommands), then matching subcommands."""
    for spec in index().top:
        if category in spec.categories:
            _change_perm(allowed, firstargs, spec, allow)
        if spec.subcommands:
            for sub in spec.subcommands.values():
                if category in sub.categories:
                    _change_perm(allowed, firstargs, sub, allow)


# -- selectors and users ---------------------------------------------------------------
# ACLCheckAllUserCommandPerm's results, ordered as Redis orders them: when no
# selector allows a command, the highest result (then the latest argument)
# is the one reported.
ACL_OK = 0
DENIED_CMD = 1
DENIED_KEY = 2
DENIED_CHANNEL = 4
DENIAL_REASONS = {DENIED_CMD: "command", DENIED_KEY: "key", DENIED_CHANNEL: "channel"}


class Selector:
    """One set of command, key and channel permissions (Redis's aclSelector).
    A ``User`` is its own root selector; ``(...)`` rules add more selectors
    (``User.selectors``).  A command is allowed when one selector allows the
    command together with all its keys and channels."""

    def __init__(self, allchannels=False):
        self.future = False               # +@all: may run commands added later
        self.allcommands = False          # every command bit set
        self.allowed = set()              # CommandSpec objects
        self.firstargs = {}               # spec -> [lowercase first arg, ...]
        self.allkeys = False
        self.keys = []                    # [[pattern bytes, perms], ...]
        self.allchannels = allchannels
        self.channels = []                # [pattern bytes, ...]
        self.key_matchers = None
        self.channel_matchers = None

    def copy_selector_from(self, other):
        self.future = other.future
        self.allcommands = other.allcommands
        self.allowed = set(other.allowed)
        self.firstargs = {k: list(v) for k, v in other.firstargs.items()}
        self.allkeys = other.allkeys
        self.keys = [list(k) for k in other.keys]
        self.allchannels = other.allchannels
        self.channels = list(other.channels)
        self.key_matchers = None
        self.channel_matchers = None

    def clone_selector(self):
        s = Selector()
        s.copy_selector_from(self)
        return s

    def _apply_selector(self, rule):
        low = rule.lower()
        if low in (b"allkeys", b"~*"):
            self.allkeys = True
            self.keys = []
        elif low == b"resetkeys":
            self.allkeys = False
            self.keys = []
        elif low in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
        elif low == b"resetchannels":
            self.allchannels = False
            self.channels = []
        elif low in (b"allcommands", b"+@all"):
            self.allowed = set(index().all)
            self.allcommands = self.future = True
            self.firstargs = {}
        elif low in (b"nocommands", b"-@all"):
            self.allowed = set()
            self.allcommands = self.future = False
            self.firstargs = {}
        elif rule[:1] in (b"~", b"%"):
            if self.allkeys:
                raise RuleError(E_KEYS_AFTER_ALL)
            perms = 0
            offset = 1
            if rule[:1] == b"%":
                while offset < len(rule):
                    c = rule[offset:offset + 1].upper()
                    if c == b"R" and not perms & READ:
                        perms |= READ
                    elif c == b"W" and not perms & WRITE_PERM:
                        perms |= WRITE_PERM
                    elif c == b"~":
                        offset += 1
                        break
                    else:
                        raise RuleError(E_SYNTAX)
                    offset += 1
                if not perms:
                    raise RuleError(E_SYNTAX)
            else:
                perms = ALL_PERM
            pattern = rule[offset:]
            if _has_spaces(pattern):
                raise RuleError(E_SYNTAX)
            for entry in self.keys:
                if entry[0] == pattern:
                    entry[1] |= perms
                    break
            else:
                self.keys = self.keys + [[pattern, perms]]
            self.allkeys = False
            self.key_matchers = None
        elif rule[:1] == b"&":
            if self.allchannels:
                raise RuleError(E_CHANNELS_AFTER_ALL)
            pattern = rule[1:]
            if _has_spaces(pattern):
                raise RuleError(E_SYNTAX)
            if pattern not in self.channels:
                self.channels = self.channels + [pattern]
            self.allchannels = False
            self.channel_matchers = None
        elif rule[:1] == b"+" and rule[1:2] != b"@":
            self._allow_command(rule[1:])
        elif rule[:1] == b"-" and rule[1:2] != b"@":
            spec = index().lookup(rule[1:].decode("latin-1"))
            if spec is None:
                if _redis_only(rule[1:]):
                    return
                raise RuleError(E_UNKNOWN)
            _change_perm(self.allowed, self.firstargs, spec, False)
            self.allcommands = False
        elif rule[:1] in (b"+", b"-") and rule[1:2] == b"@":
            category = rule[2:].decode("latin-1").lower()
            if category not in registry.ALL_CATEGORIES:
                raise RuleError(E_UNKNOWN)
            allow = rule[:1] == b"+"
            _apply_category(self.allowed, self.firstargs, category, allow)
            if not allow:
                self.allcommands = False
        else:
            raise RuleError(E_SYNTAX)

    def _allow_command(self, name):
        if _redis_only(name):
            return
        text = name.decode("latin-1")
        if "|" not in text:
            spec = index().lookup(text)
            if spec is None:
                raise RuleError(E_UNKNOWN)
            _change_perm(self.allowed, self.firstargs, spec, True)
            return
        base, _, sub = text.rpartition("|")
        spec = index().lookup(base)
        if spec is None:
            raise RuleError(E_UNKNOWN)
        if spec.parent is not None:
            raise RuleError(E_FIRSTARG_SUB)
        if not sub:
            raise RuleError(E_SYNTAX)
        if spec.subcommands:
            subspec = index().lookup(text)
            if subspec is None:
                raise RuleError(E_UNKNOWN)
            _change_perm(self.allowed, self.firstargs, subspec, True)
        else:
            log.warning("Deprecation warning: Allowing a first arg of an otherwise blocked "
                        "command is a misuse of ACL and may get disabled in the future "
                        "(offender: +%s)", text)
            args = self.firstargs.setdefault(spec, [])
            if sub.lower() not in args:
                args.append(sub.lower())

    # -- checks ---------------------------------------------------------------------
    def can_run(self, spec, argv):
        if self.allcommands or spec.flags & NO_AUTH or spec in self.allowed:
            return True
        allowed_args = self.firstargs.get(spec)
        if allowed_args and len(argv) > 1:
            return argv[1].decode("latin-1").lower() in allowed_args
        return False

    def denied_key(self, spec, argv):
        """Index in argv of the first key this user may not use, or None."""
        if self.allkeys:
            return None
        plan = _PLANS.get(spec)
        if plan is None:
            plan = _PLANS[spec] = _key_plan(spec)
        if plan is _NO_KEYS:
            return None
        matchers = self.key_matchers
        if matchers is None:
            matchers = self.key_matchers = [(p, _key_matcher(pat)) for pat, p in self.keys]
        if plan[0] is not None:
            # One key at a fixed position, fixed permission (GET, INCR, HSET ...).
            pos, need = plan
            if pos >= len(argv):
                return None
            if type(need) is not int:           # SET, BITFIELD: depends on argv
                need = need(argv)[0]
            key = argv[pos]
            for have, match in matchers:
                if have & need == need and match(key):
                    return None
            return pos
        try:
            positions = spec.key_positions(argv)
        except Exception:
            # A key finder that cannot read these arguments: refuse rather
            # than let the command touch keys nobody checked.
            return min(1, len(argv) - 1)
        if not positions:
            return None
        perms = _key_perms(spec, argv)
        last = len(perms) - 1
        for i, pos in enumerate(positions):
            if pos >= len(argv):
                continue
            if last == 0:
                need = perms[0]
            elif len(positions) == len(perms):
                need = perms[i]
            else:
                need = perms[0] if i == 0 else perms[last]
            key = argv[pos]
            for have, match in matchers:
                if have & need == need and match(key):
                    break
            else:
                return pos
        return None

    def denied_channel(self, spec, argv):
        if self.allchannels:
            return None
        shape = CHANNEL_COMMANDS.get(spec.fullname)
        if shape is None:
            return None
        first, rest, literal = shape
        end = len(argv) if rest else min(first + 1, len(argv))
        matchers = self.channel_matchers
        if matchers is None:
            matchers = self.channel_matchers = [(pat, glob_matcher(pat)) for pat in self.channels]
        for pos in range(first, end):
            ch = argv[pos]
            for pat, match in matchers:
                if (pat == ch) if literal else match(ch):
                    break
            else:
                return pos
        return None

    def channel_allowed(self, channel, literal=False):
        if self.allchannels:
            return True
        if literal:
            return channel in self.channels
        return any(glob_matcher(p)(channel) for p in self.channels)

    def check_cmd(self, spec, argv):
        """ACLSelectorCheckCmd: (ACL_OK, None), (DENIED_CMD, None), or
        (DENIED_KEY / DENIED_CHANNEL, index of the first refused argument)."""
        if not self.can_run(spec, argv):
            return DENIED_CMD, None
        if not self.allkeys:
            pos = self.denied_key(spec, argv)
            if pos is not None:
                return DENIED_KEY, pos
        if not self.allchannels and spec.fullname in CHANNEL_COMMANDS:
            pos = self.denied_channel(spec, argv)
            if pos is not None:
                return DENIED_CHANNEL, pos
        return ACL_OK, None

    def unrestricted_keys(self, need):
        """ACLSelectorHasUnrestrictedKeyAccess: ``*`` with permission ``need``."""
        if self.allkeys:
            return True
        return any(pattern == b"*" and perms & need == need for pattern, perms in self.keys)

    # -- description ----------------------------------------------------------------
    def keys_text(self):
        if self.allkeys:
            return "~*"
        return " ".join(_pattern_text(p, perms) for p, perms in self.keys)

    def channels_text(self):
        if self.allchannels:
            return "&*"
        return " ".join("&" + _text(p) for p in self.channels)

    def describe_selector(self):
        """ACLDescribeSelector: keys, channels, then command rules."""
        parts = []
        if self.allkeys:
            parts.append("~*")
        else:
            parts += [_pattern_text(p, perms) for p, perms in self.keys]
        if self.allchannels:
            parts.append("&*")
        else:
            parts.append("resetchannels")
            parts += ["&" + _text(p) for p in self.channels]
        parts.append(self.describe_commands())
        return " ".join(parts)

    def description_fields(self):
        """ACL GETUSER's commands / keys / channels of this selector."""
        return {
            b"commands": self.describe_commands().encode(),
            b"keys": self.keys_text().encode("utf-8", "surrogateescape"),
            b"channels": self.channels_text().encode("utf-8", "surrogateescape"),
        }

    def describe_commands(self):
        """Redis's ACLDescribeSelectorCommandRules: start from +@all or
        -@all, add the best-fitting categories, then single commands."""
        idx = index()
        firstargs = {}
        if self.future:
            rules = ["+@all"]
            fake = set(idx.all)
            additive = False
        else:
            rules = ["-@all"]
            fake = set()
            additive = True
        temp = set(self.allowed)
        applied = set()
        while True:
            best = None
            mindiff = sys.maxsize
            maxsame = 0
            for cat in registry.ALL_CATEGORIES:
                if cat in applied:
                    continue
                members = idx.by_category[cat]
                on = len(members & temp)
                off = len(members) - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if best is None:
                break
            _apply_category(fake, firstargs, best, additive)
            _apply_category(temp, firstargs, best, not additive)
            rules.append(("+@" if additive else "-@") + best)
            applied.add(best)
        allowed = self.allowed
        for spec in idx.top:
            userbit = spec in allowed
            if userbit != (spec in fake):
                rules.append(("+" if userbit else "-") + spec.fullname)
                _change_perm(fake, firstargs, spec, userbit)
            if spec.subcommands:
                for sub in spec.subcommands.values():
                    subbit = sub in allowed
                    if subbit != (sub in fake):
                        rules.append(("+" if subbit else "-") + sub.fullname)
                        _change_perm(fake, firstargs, sub, subbit)
            if not userbit and spec in self.firstargs:
                for arg in self.firstargs[spec]:
                    rules.append("+%s|%s" % (spec.fullname, arg))
        return " ".join(rules)


class User(Selector):
    """One ACL user: flags, passwords, its root selector (the inherited
    fields) and the selectors added with ``(...)`` rules.  Mutated in place
    by ``ACL SETUSER`` (after the rules were validated on a copy) so
    connected clients see the change."""

    def __init__(self, name, allchannels=False):
        Selector.__init__(self, allchannels)
        self.name = name                  # str (bytes decoded with surrogateescape)
        self.enabled = False
        self.nopass = False
        self.sanitize = None              # None, "sanitize-payload", "skip-sanitize-payload"
        self.passwords = []               # stored entries (passwords.py)
        self.auth_cache = set()           # HMACs of recently verified passwords
        self.selectors = []               # added selectors (Selector), in order

    @property
    def full(self):
        """May run everything on every key and channel (no checks needed)."""
        return self.allcommands and self.allkeys and self.allchannels

    def copy_from(self, other):
        self.enabled = other.enabled
        self.nopass = other.nopass
        self.sanitize = other.sanitize
        if self.passwords != other.passwords:
            self.auth_cache = set()
        self.passwords = list(other.passwords)
        self.copy_selector_from(other)
        self.selectors = [sel.clone_selector() for sel in other.selectors]

    def clone(self, name=None):
        u = User(self.name if name is None else name)
        u.copy_from(self)
        return u

    # -- rules ----------------------------------------------------------------------
    def apply(self, rule, acl):
        """Apply one rule (bytes).  Raises RuleError.  Hashing a new
        password may yield to other greenlets (it runs in the thread pool)."""
        if not rule:
            return
        low = rule.lower()
        if low == b"on":
            self.enabled = True
        elif low == b"off":
            self.enabled = False
        elif low == b"skip-sanitize-payload":
            self.sanitize = "skip-sanitize-payload"
        elif low == b"sanitize-payload":
            self.sanitize = "sanitize-payload"
        elif low == b"nopass":
            self.nopass = True
            self._set_passwords([])
        elif low == b"resetpass":
            self.nopass = False
            self._set_passwords([])
        elif rule[:1] == b">":
            self._add_password(acl.hash_new_password(rule[1:]), plain=rule[1:])
        elif rule[:1] == b"#":
            entry = rule[1:].decode("latin-1")
            if not passwords.is_entry(entry):
                raise RuleError(E_BAD_HASH)
            self._add_password(entry)
        elif rule[:1] == b"<":
            plain = rule[1:]
            for entry in list(self.passwords):
                if passwords.verify(plain, entry):
                    self._set_passwords([p for p in self.passwords if p != entry])
                    break
            else:
                raise RuleError(E_NO_SUCH_PASS)
        elif rule[:1] == b"!":
            entry = rule[1:].decode("latin-1")
            if not passwords.is_entry(entry):
                raise RuleError(E_BAD_HASH)
            if entry not in self.passwords:
                raise RuleError(E_NO_SUCH_PASS)
            self._set_passwords([p for p in self.passwords if p != entry])
        elif rule[:1] == b"(" and rule[-1:] == b")":
            self.selectors = self.selectors + [_selector_from_rules(rule, acl)]
        elif low == b"clearselectors":
            self.selectors = []
        elif low == b"reset":
            self.nopass = False
            self._set_passwords([])
            self._apply_selector(b"resetkeys")
            self._apply_selector(b"resetchannels")
            if acl.pubsub_default_all:
                self._apply_selector(b"allchannels")
            self.enabled = False
            self.sanitize = "sanitize-payload"
            self.selectors = []
            self._apply_selector(b"-@all")
        elif low.startswith(b"role:"):
            role = ROLES.get(low[5:].decode("latin-1"))
            if role is None:
                raise RuleError(E_ROLE)
            for r in role:
                self._apply_selector(r.encode())
        else:
            self._apply_selector(rule)

    def _set_passwords(self, entries):
        self.passwords = entries
        self.auth_cache = set()

    def _add_password(self, entry, plain=None):
        if entry not in self.passwords:
            if plain is not None and passwords.is_slow(entry):
                # A password already present under another salt is not added twice.
                for old in self.passwords:
                    if passwords.is_slow(old) and passwords.verify(plain, old):
                        self.nopass = False
                        return
            self.passwords = self.passwords + [entry]
        self.nopass = False

    # -- checks over every selector ------------------------------------------------
    def check_all(self, spec, argv):
        """ACLCheckAllUserCommandPerm: (ACL_OK, None) when the root selector
        or an added one allows the command with all its keys and channels;
        otherwise the denial to report: the command if no selector allows
        it, else the highest result (channel over key), latest argument."""
        code, pos = self.check_cmd(spec, argv)
        if code == ACL_OK or not self.selectors:
            return code, pos
        relevant, last = code, pos or 0
        for sel in self.selectors:
            code, pos = sel.check_cmd(spec, argv)
            if code == ACL_OK:
                return ACL_OK, None
            if code > relevant or (code == relevant and (pos or 0) > last):
                relevant, last = code, pos or 0
        return relevant, (last if relevant != DENIED_CMD else None)

    def all_selectors(self):
        return [self] + self.selectors

    def channel_allowed_any(self, channel, literal=False):
        """ACLUserCheckChannelPerm: some selector allows the channel."""
        return any(sel.channel_allowed(channel, literal) for sel in self.all_selectors())

    def unrestricted_key_access(self, spec, argv, need=READ):
        """ACLUserCheckCmdWithUnrestrictedKeyAccess: one selector allows the
        command and every key with permission ``need`` (SORT's BY / GET)."""
        if self.full:
            return True
        for sel in self.all_selectors():
            if sel.unrestricted_keys(need) and sel.check_cmd(spec, argv)[0] == ACL_OK:
                return True
        return False

    # -- description ------------------------------------------------------------------
    def flag_names(self):
        flags = ["on" if self.enabled else "off"]
        if self.nopass:
            flags.append("nopass")
        if self.sanitize:
            flags.append(self.sanitize)
        return flags

    def describe(self):
        """The rules, as ``ACL LIST`` shows them after ``user <name>``."""
        parts = self.flag_names()
        parts += ["#" + p for p in self.passwords]
        parts.append(self.describe_selector())
        parts += ["(%s)" % sel.describe_selector() for sel in self.selectors]
        return " ".join(parts)


def _selector_from_rules(rule, acl):
    """aclCreateSelectorFromOpSet: ``(rules)`` -> a new Selector.  The rules
    inside are split as Redis's sdssplitargs splits them (quotes allowed;
    unbalanced quotes give an empty selector, as Redis)."""
    from ..protocol.request import split_args
    sel = Selector(acl.pubsub_default_all)
    inner = rule[1:-1]
    nul = inner.find(b"\0")
    if nul >= 0:
        inner = inner[:nul]         # Redis splits a C string
    for op in split_args(inner) or ():
        sel._apply_selector(op)
    return sel


def merge_selector_args(rules):
    """ACLMergeSelectorArguments: a selector split over several arguments
    (``(~k``, ``+get)``) is joined back with spaces.  None when a selector's
    opening parenthesis has no closing one."""
    out = []
    current = None
    for r in rules:
        if r[:1] == b"(" and r[-1:] != b")":
            current = r         # (Redis drops a selector left open before)
            continue
        if current is not None:
            current += b" " + r
            if r[-1:] == b")":
                out.append(current)
                current = None
            continue
        out.append(r)
    return None if current is not None else out


def _has_spaces(b):
    return any(c in b" \t\n\r\v\f\x00" for c in b)


def _text(b):
    return b.decode("utf-8", "surrogateescape")


def _pattern_text(pattern, perms):
    prefix = {ALL_PERM: "~", READ: "%R~", WRITE_PERM: "%W~"}.get(perms, "~")
    return prefix + _text(pattern)


def _key_perms(spec, argv):
    name = spec.fullname
    if name in _VARIABLE:
        return _VARIABLE[name](argv)
    perms = KEY_PERMS.get(name)
    if perms is None:
        if spec.flags & WRITE:
            return (3,)
        return (1,) if spec.flags & READONLY else (3,)
    return perms


# Commands whose key permission depends on their arguments (Redis's
# VARIABLE_FLAGS key specs): SET reads its key only with GET, BITFIELD
# writes only with SET / INCRBY.
_VARIABLE = {
    "set": lambda argv: (3,) if any(a.lower() == b"get" for a in argv[3:]) else (2,),
    "bitfield": lambda argv: (3,) if any(a.lower() in (b"set", b"incrby")
                                         for a in argv[2:]) else (1,),
}
_NO_KEYS = (None, None)
_PLANS = {}     # spec -> _NO_KEYS, (position, permission) or (None, None-ish general)


def _key_plan(spec):
    """How to find a command's keys and the permission each needs."""
    if (not spec.first_key and spec.keys_fn is None) or spec.fullname in NOT_KEY_COMMANDS:
        return _NO_KEYS
    if spec.keys_fn is None and spec.first_key > 0 and spec.last_key == spec.first_key:
        if spec.fullname in _VARIABLE:
            return (spec.first_key, _VARIABLE[spec.fullname])
        perms = _key_perms(spec, ())
        if len(perms) == 1:
            return (spec.first_key, perms[0])
    return (None, "general")


def _key_matcher(pattern):
    """A fast predicate for a key pattern: plain prefixes and exact names
    avoid the regex (the common ``~app:*`` case)."""
    if pattern == b"*":
        return lambda key: True
    special = any(c in pattern for c in b"?[\\")
    star = pattern.find(b"*")
    if not special and star == len(pattern) - 1:
        prefix = pattern[:-1]
        return lambda key: key.startswith(prefix)
    if not special and star < 0:
        return pattern.__eq__
    return glob_matcher(pattern)


# -- the ACL log -------------------------------------------------------------------------
class AclLog:
    """ACL LOG: newest first, similar entries within 60 s merged (count++)."""

    def __init__(self, max_len=128):
        self.entries = deque()
        self.max_len = max_len

    def add(self, reason, context, obj, username, client_info):
        now = int(time.time() * 1000)
        checked = 0
        for e in self.entries:
            if checked == 10:
                break
            checked += 1
            if (e["reason"] == reason and e["context"] == context and e["object"] == obj
                    and e["username"] == username and abs(now - e["ctime"]) <= 60000):
                self.entries.remove(e)
                self.entries.appendleft(e)
                e["count"] += 1
                e["ctime"] = now
                e["cinfo"] = client_info
                return
        self.entries.appendleft({"count": 1, "reason": reason, "context": context,
                                 "object": obj, "username": username, "ctime": now,
                                 "cinfo": client_info})
        self.trim()

    def trim(self):
        while len(self.entries) > self.max_len:
            self.entries.pop()

    def reset(self):
        self.entries.clear()


# -- failed-login throttling ---------------------------------------------------------------
class LoginThrottle:
    """Per source address: once ``threshold`` consecutive logins failed,
    each further attempt from that address starts at least ``delay`` after
    the previous one, ``delay`` being ``base`` doubled with every further
    failure, up to ``maximum``.  Attempts are serialized per address, so
    parallel connections do not multiply an attacker's rate; other addresses
    and established sessions are unaffected (the waiting is a gevent sleep
    in that client's greenlet).  A success clears the address; addresses
    forget failures after 15 idle minutes."""

    FORGET_AFTER = 900.0
    MAX_ADDRESSES = 10000

    def __init__(self, threshold=10, base=0.1, maximum=10.0):
        self.threshold = threshold
        self.base = base
        self.maximum = maximum
        self.state = {}      # address -> [failures, last attempt slot, last failure]

    def delay_for(self, failures):
        if not self.threshold or failures < self.threshold:
            return 0.0
        return min(self.maximum, self.base * (2 ** min(failures - self.threshold, 30)))

    def wait(self, address):
        st = self.state.get(address)
        if st is None:
            return
        now = time.monotonic()
        if now - st[2] > self.FORGET_AFTER:
            del self.state[address]
            return
        delay = self.delay_for(st[0])
        if not delay:
            return
        slot = max(now, st[1] + delay)
        st[1] = slot
        if slot > now:
            import gevent
            gevent.sleep(slot - now)

    def failed(self, address):
        now = time.monotonic()
        st = self.state.get(address)
        if st is None:
            if len(self.state) >= self.MAX_ADDRESSES:
                oldest = min(self.state, key=lambda a: self.state[a][2])
                del self.state[oldest]
            st = self.state[address] = [0, now, now]
        st[0] += 1
        st[1] = max(st[1], now)
        st[2] = now

    def succeeded(self, address):
        self.state.pop(address, None)


def client_ip(client):
    addr = getattr(client, "address", None)
    if isinstance(addr, tuple) and addr:
        return addr[0]
    return str(addr)


def current_argv():
    """The argv of the command being run, as the client spelled it, or None.
    Handlers do not receive argv; error texts that quote the client's own
    spelling (ACL LOG's AUTH entries, "wrong number of arguments for 'CAT'")
    find it in the dispatching frames.  Only used on error paths."""
    f = sys._getframe(1)
    for _ in range(16):
        if f is None:
            break
        argv = f.f_locals.get("argv")
        if type(argv) is list and argv and type(argv[0]) is bytes:
            return argv
        f = f.f_back
    return None


def _argv0(default):
    argv = current_argv()
    return argv[0] if argv else default


# -- the ACL subsystem ---------------------------------------------------------------------
class ACL:
    """``node.acl``: users, authentication, permission checks and the log."""

    def __init__(self, node):
        self.node = node
        cfg = node.config
        self.pubsub_default_all = cfg["aclPubsubDefault"] == "allchannels"
        self.hash_algorithm = cfg["aclPasswordHash"]
        self.users = {}
        self.default = self._create_default()
        self.users["default"] = self.default
        self.log = AclLog(cfg["acllogMaxLen"])
        self.throttle = LoginThrottle(cfg["authFailThreshold"], cfg["authFailDelay"] / 1000.0,
                                      cfg["authFailMaxDelay"] / 1000.0)
        self.tokens = None                 # tokens.TokenStore, set by security.attach
        self.login_hooks = []              # fn(client) after a client's user changed
        self.file_digest = None            # SHA-256 of the ACL file last loaded/saved
        self._cache_key = secrets.token_bytes(32)

    def _create_default(self):
        u = User("default", self.pubsub_default_all)
        for r in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            u.apply(r, self)
        return u

    def new_user(self, name):
        return User(name, self.pubsub_default_all)

    def hash_new_password(self, plain):
        return passwords.make_entry(plain, self.hash_algorithm)

    # -- API used by dispatch / connection commands -----------------------------------
    def auth_required(self):
        d = self.default
        return not (d.nopass and d.enabled)

    def has_user(self, name):
        if isinstance(name, bytes):
            name = name.decode("utf-8", "surrogateescape")
        return name in self.users

    def get_user(self, name):
        if isinstance(name, bytes):
            name = name.decode("utf-8", "surrogateescape")
        return self.users.get(name)

    def user_of(self, client):
        u = getattr(client, "acl_user", None)
        return u if u is not None else self.users.get(client.user, self.default)

    def on_client_open(self, client):
        client.acl_user = self.default
        client.token_id = None
        if not self.default.full:
            client.acl_restricted = True

    def reset_client(self, client):
        """RESET: back to the default user, authenticated only if it needs no
        password."""
        self._set_client_user(client, self.default, None)
        client.authenticated = not self.auth_required()

    def _set_client_user(self, client, user, token_id):
        client.user = user.name
        client.acl_user = user
        client.token_id = token_id
        client.acl_restricted = not user.full
        for fn in self.login_hooks:
            fn(client)

    def authenticate(self, ctx, username, password, legacy=False):
        """AUTH / HELLO AUTH.  Raises CommandError on failure."""
        if legacy and self.default.nopass:
            raise CommandError("ERR AUTH <password> called without any password configured "
                               "for the default user. Are you sure your configuration is "
                               "correct?")
        name = username.decode("utf-8", "surrogateescape")
        address = client_ip(ctx)
        self.throttle.wait(address)
        user = self.users.get(name)
        token_id = None
        ok = False
        if user is not None and user.enabled:
            if user.nopass:
                ok = True
            else:
                if self.tokens is not None:
                    token_id = self.tokens.match(user, password)
                ok = token_id is not None or self._check_password(user, password)
            # The user may have been changed while the hash was computed.
            if ok and (self.users.get(name) is not user or not user.enabled):
                ok = False
        if not ok:
            self.throttle.failed(address)
            obj = _argv0(b"AUTH")
            self.log.add("auth", "multi" if ctx.multi is not None else "toplevel",
                         obj.decode("utf-8", "surrogateescape"), name, ctx.info_line())
            raise CommandError(errors.WRONGPASS)
        self.throttle.succeeded(address)
        self._set_client_user(ctx, user, token_id)
        ctx.authenticated = True

    def _check_password(self, user, password):
        key = hmac.new(self._cache_key, user.name.encode("utf-8", "surrogateescape") + b"\0"
                       + password, hashlib.sha256).digest()
        if key in user.auth_cache:
            return True
        cache = user.auth_cache
        for entry in list(user.passwords):
            if passwords.verify(password, entry):
                if user.auth_cache is cache:      # not reset meanwhile
                    if len(cache) >= 256:
                        cache.clear()
                    cache.add(key)
                return True
        return False

    def check(self, client, spec, argv):
        """Dispatch's ACL step for a restricted client: command, keys,
        channels, in Redis's order; logs and raises NOPERM."""
        user = getattr(client, "acl_user", None) or self.user_of(client)
        if user.selectors:
            code, pos = user.check_all(spec, argv)
            if code == ACL_OK:
                return
            if code == DENIED_CMD:
                self.deny(client, user, "command", spec.fullname, spec)
                raise CommandError(NOPERM_CMD % spec.fullname)
            self.deny(client, user, DENIAL_REASONS[code], _text(argv[pos]), spec)
            raise CommandError(NOPERM_KEY if code == DENIED_KEY else NOPERM_CHANNEL)
        if not user.can_run(spec, argv):
            self.deny(client, user, "command", spec.fullname, spec)
            raise CommandError(NOPERM_CMD % spec.fullname)
        if not user.allkeys:
            pos = user.denied_key(spec, argv)
            if pos is not None:
                self.deny(client, user, "key", _text(argv[pos]), spec)
                raise CommandError(NOPERM_KEY)
        if not user.allchannels and spec.fullname in CHANNEL_COMMANDS:
            pos = user.denied_channel(spec, argv)
            if pos is not None:
                self.deny(client, user, "channel", _text(argv[pos]), spec)
                raise CommandError(NOPERM_CHANNEL)

    def dry_run(self, user, spec, argv):
        """ACL DRYRUN: None if allowed, else Redis's explanation text."""
        code, pos = user.check_all(spec, argv)
        if code == DENIED_CMD:
            return "This user has no permissions to run the '%s' command" % spec.fullname
        if code == DENIED_KEY:
            return "This user has no permissions to access the '%s' key" % _text(argv[pos])
        if code == DENIED_CHANNEL:
            return "This user has no permissions to access the '%s' channel" % _text(argv[pos])
        return None

    def deny(self, client, user, reason, obj, spec=None):
        if getattr(client, "in_script", False):
            # A script's call (EVAL, FCALL): Redis logs it in the "lua"
            # context with the caller's client info (cmd=eval ...).
            context = "lua"
        else:
            context = "multi" if client.multi is not None else "toplevel"
            if spec is not None:
                client.cmd = spec   # client-info shows the denied command, as Redis
        self.log.add(reason, context, obj, user.name, client.info_line())

    # -- user management ----------------------------------------------------------
    def set_user(self, name, rules, requester=None):
        """ACL SETUSER: validate every rule on a copy, then apply in place."""
        existing = self.users.get(name)
        temp = existing.clone() if existing is not None else self.new_user(name)
        for rule in rules:
            try:
                temp.apply(rule, self)
            except RuleError as e:
                raise CommandError("ERR Error in ACL SETUSER modifier '%s': %s"
                                   % (_text(rule), e)) from None
        existing = self.users.get(name)   # hashing may have yielded
        if existing is None:
            user = self.new_user(name)
            user.copy_from(temp)
            self.users[name] = user
            return user
        was_enabled = existing.enabled
        old_channels = (existing.allchannels, list(existing.channels))
        existing.copy_from(temp)
        self.user_changed(existing, requester, disabled=was_enabled and not existing.enabled,
                          old_channels=old_channels)
        return existing

    def user_changed(self, user, requester=None, disabled=False, old_channels=None):
        """Propagate a permission change to the user's connected clients."""
        for c in list(self.node.clients.values()):
            if getattr(c, "acl_user", None) is not user:
                continue
            if (disabled and c.authenticated and user is not self.default
                    and self.node.config["aclDisabledUserSessions"] == "close"):
                # NodeNsync's default: disabling a user ends its sessions
                # (Redis, and aclDisabledUserSessions=keep: only new logins
                # are refused).
                self._drop_client(c, requester)
                continue
            c.acl_restricted = not user.full
            if old_channels is not None and c.subscribed and not self._channels_still_ok(c, user):
                if requester is not None:
                    c.close_soon(requester)
                else:
                    c.close()
        if user is self.default and self.default.nopass and self.default.enabled:
            for c in list(self.node.clients.values()):
                if getattr(c, "acl_user", None) is user and not c.authenticated:
                    c.authenticated = True

    def _channels_still_ok(self, client, user):
        """Redis kills pub/sub clients whose subscriptions lost permission."""
        if any(sel.allchannels for sel in user.all_selectors()):
            return True
        for ch in list(getattr(client, "channels", ())) + list(getattr(client, "shard_channels", ())):
            if not user.channel_allowed_any(ch):
                return False
        for pat in getattr(client, "patterns", ()):
            if not user.channel_allowed_any(pat, literal=True):
                return False
        return True

    def _drop_client(self, c, requester):
        c.user = "default"
        c.acl_user = self.default
        c.token_id = None
        c.authenticated = False
        if requester is not None:
            c.close_soon(requester)
        else:
            c.close()

    def delete_users(self, names, requester=None):
        for n in names:
            if n == "default":
                raise CommandError("ERR The 'default' user cannot be removed")
        deleted = 0
        for n in names:
            user = self.users.pop(n, None)
            if user is None:
                continue
            deleted += 1
            self._kill_user_clients(user, requester)
            if self.tokens is not None:
                self.tokens.revoke_user(user.name, requester)
        return deleted

    def _kill_user_clients(self, user, requester):
        for c in list(self.node.clients.values()):
            if getattr(c, "acl_user", None) is user:
                self._drop_client(c, requester)

    def list_lines(self):
        return ["user %s %s" % (name, self.users[name].describe())
                for name in sorted(self.users, key=lambda n: n.encode("utf-8", "surrogateescape"))]

    # -- loading / saving ------------------------------------------------------------------
    def parse_user_lines(self, lines, source, strict_keyword=True):
        """Redis's ACLLoadFromFile on ``lines``: returns (users dict, error
        text or None).  Nothing is applied when there is an error."""
        users = {}
        errs = []
        for i, raw in enumerate(lines):
            linenum = i + 1
            line = raw.strip(b" \t\r\n")
            if not line:
                continue
            argv = line.split(b" ")
            if argv[0] != b"user" or len(argv) < 2:
                errs.append("%s:%d should start with user keyword followed by the username. "
                            % (source, linenum))
                continue
            name_b = argv[1]
            if _has_spaces(name_b) or not name_b:
                errs.append("'%s:%d: username '%s' contains invalid characters. "
                            % (source, linenum, _text(name_b)))
                continue
            name = _text(name_b)
            if name in users:
                errs.append("WARNING: Duplicate user '%s' found on line %d. " % (name, linenum))
                continue
            user = self.new_user(name)
            users[name] = user
            rules = merge_selector_args(argv[2:])
            if rules is None:
                errs.append("%s:%d: Unmatched parenthesis in selector definition."
                            % (source, linenum))
                continue
            syntax_error = False
            for rule in rules:
                rule = rule.strip(b"\t\r\n")
                try:
                    user.apply(rule, self)
                except RuleError as e:
                    if str(e) == E_UNKNOWN:
                        # Unknown names are quoted (they hold no secret) ...
                        errs.append("%s:%d: Error in applying operation '%s': %s. "
                                    % (source, linenum, _text(rule), e))
                    elif not syntax_error:
                        # ... other errors only once per line: later ones may
                        # just be consequences of the first.
                        errs.append("%s:%d: %s. " % (source, linenum, e))
                        syntax_error = True
        if errs:
            return None, "".join(errs) + ("WARNING: ACL errors detected, no change to the "
                                          "previously active ACL rules was performed")
        return users, None

    def load_file(self, path, requester=None):
        """ACL LOAD (and startup): all or nothing.  Returns an error text or None."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            return "Error loading ACLs, opening file '%s': %s" % (path, e.strerror)
        users, err = self.parse_user_lines(data.split(b"\n"), path)
        if err:
            return err
        self.install_users(users, requester)
        self.file_digest = hashlib.sha256(data).digest()
        return None

    def reload_if_changed(self, path):
        """SIGHUP: load the ACL file again only if it changed since it was
        last loaded or saved (a log rotation must not drop every session)."""
        try:
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).digest()
        except OSError as e:
            log.warning("ACL file not reloaded: %s", e)
            return
        if digest == self.file_digest:
            return
        err = self.load_file(path)
        if err:
            log.warning("ACL file not reloaded: %s", err)
        else:
            log.info("ACL file %s reloaded", path)

    def install_users(self, users, requester=None):
        """Replace every user (the default user object is kept and updated,
        as Redis does); clients of the other old users are disconnected."""
        new_default = users.pop("default", None) or self._create_default()
        old = self.users
        self.users = {"default": self.default}
        self.users.update(users)
        for name, user in old.items():
            if user is not self.default:
                self._kill_user_clients(user, requester)
                if self.tokens is not None and name not in self.users:
                    self.tokens.revoke_user(name, requester)
        was_enabled = self.default.enabled
        self.default.copy_from(new_default)
        self.user_changed(self.default, requester,
                          disabled=was_enabled and not self.default.enabled)

    def save_file(self, path):
        """ACL SAVE: the users in Redis's file format, written atomically
        (mode 0600: the file holds password hashes)."""
        text = "".join(line + "\n" for line in self.list_lines())
        directory = os.path.dirname(os.path.abspath(path))
        tmp = os.path.join(directory, ".%s.tmp-%d-%d" % (os.path.basename(path), os.getpid(),
                                                          int(time.time() * 1000)))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode("utf-8", "surrogateescape"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            self.file_digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
        except OSError as e:
            log.warning("Writing ACL file for ACL SAVE: %s", e.strerror)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        return True

    def set_default_password(self, entry):
        """requirepass: the default user gets exactly this password entry
        ('' = nopass)."""
        temp = self.default.clone()
        temp.apply(b"resetpass", self)
        if entry:
            temp.passwords = [entry]
            temp.nopass = False
        else:
            temp.apply(b"nopass", self)
        self.default.copy_from(temp)
        self.user_changed(self.default)

