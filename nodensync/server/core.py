"""Core background work: active expiry, idle-client timeout, settings that
apply to the keyspace."""
import logging

from .. import config as config_mod
from ..commands import registry
from ..protocol.request import split_args
from ..storage import zset
from ..storage.compact import HASH_PACK_ENTRIES, HASH_PACK_VALUE

log = logging.getLogger("nodensync")


def parse_renames(text):
    """rename-command's pairs, ';'-separated ``old new`` entries (``""``
    for no name), as [(old, new)] of bytes; checked in order as Redis
    loads its rename-command lines."""
    pairs = []
    for part in text.split(";"):
        if not part.strip():
            continue
        args = split_args(part.strip().encode("utf-8", "surrogateescape"))
        if args is None or len(args) != 2:
            raise ValueError("wrong number of arguments in '%s' (old-name new-name)" % part.strip())
        pairs.append((args[0].lower(), args[1].lower()))
    registry.check_renames(pairs)
    return tuple(pairs)


def format_renames(pairs):
    return "; ".join("%s %s" % (old.decode("utf-8", "surrogateescape"),
                                new.decode("utf-8", "surrogateescape") if new else '""')
                     for old, new in pairs)


config_mod.declare("renameCommand", "str", (), "Redis's rename-command, set at start: "
                   "';'-separated 'old-name new-name' pairs; a command renamed to \"\" is "
                   "gone (e.g. 'flushall \"\"; config admin-config'). ACL rules keep "
                   "using the original names. Process-wide.", flags=["--renameCommand",
                                                                     "--rename-command"],
                   parser=parse_renames, formatter=format_renames, group="security",
                   repeat="; ")

_renamed = []      # the renames applied in this process (the command table is process-wide)


def apply_renames(pairs):
    if not pairs or _renamed == list(pairs):
        return
    if _renamed:
        log.warning("rename-command: this process's command table is already renamed; "
                    "%s not applied", format_renames(pairs))
        return
    registry.rename_commands(pairs)
    _renamed.extend(pairs)
    from . import client
    del client._hub_tables[:]          # (rebuilt from the renamed table)


def attach(node):
    cfg = node.config
    apply_renames(cfg["renameCommand"])

    def set_notify(value):
        node.keyspace.set_notify_flags(parse_notify_flags(value))

    set_notify(cfg["notifyKeyspaceEvents"])
    cfg.on_change("notifyKeyspaceEvents", set_notify)

    ks = node.keyspace

    def set_compact_limits(_value=None):
        # The compact forms follow Redis's settings, within the caps that
        # keep a re-pack cheap (storage/compact.py).
        ks.hash_pack_entries = min(cfg["hashMaxListpackEntries"], HASH_PACK_ENTRIES)
        ks.hash_pack_value = min(cfg["hashMaxListpackValue"], HASH_PACK_VALUE)
        ks.intset_entries = cfg["setMaxIntsetEntries"]
        # (when a sorted set becomes a skiplist for good: storage/zset.py)
        zset.LISTPACK_LIMITS[:] = [cfg["zsetMaxListpackEntries"], cfg["zsetMaxListpackValue"]]

    set_compact_limits()
    for name in ("hashMaxListpackEntries", "hashMaxListpackValue", "setMaxIntsetEntries",
                 "zsetMaxListpackEntries", "zsetMaxListpackValue"):
        cfg.on_change(name, set_compact_limits)
    node.start_hooks.append(lambda: node.spawn_background(node.expire_loop))
    node.start_hooks.append(lambda: node.spawn_background(node.clients_cron))


def parse_notify_flags(text):
    """Redis's notify-keyspace-events letters, validated and with 'A'
    expanded.  Empty string means notifications are off."""
    allowed = set("KEg$lshzxetmdnA")
    if any(c not in allowed for c in text):
        raise ValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    flags = text.replace("A", _ALL_CLASSES)
    if "K" not in flags and "E" not in flags:
        return ""
    return "".join(sorted(set(flags)))


_ALL_CLASSES = "g$lshzxetd"     # what 'A' stands for ('m' and 'n' are not in it)


def format_notify_flags(text):
    """The setting as CONFIG GET shows it (Redis's keyspaceEventsFlagsToString):
    'A' when every class of 'A' is on, else the class letters in Redis's
    order, then K, E and m."""
    letters = set(text.replace("A", _ALL_CLASSES))
    if letters.issuperset(_ALL_CLASSES):
        out = "A"
    else:
        out = "".join(c for c in _ALL_CLASSES + "n" if c in letters)
    return out + "".join(c for c in "KEm" if c in letters)


def _validate_notify_flags(text):
    parse_notify_flags(text)      # ValueError with Redis's message


def _declare_notify_format():
    from .. import config
    setting = config.SETTINGS["notifyKeyspaceEvents"]
    setting.validate = _validate_notify_flags    # CONFIG SET / start-up reject bad letters
    setting.formatter = format_notify_flags


_declare_notify_format()
