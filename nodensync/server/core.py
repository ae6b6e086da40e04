"""Core background work: active expiry, idle-client timeout, settings that
apply to the keyspace."""
from ..storage.compact import HASH_PACK_ENTRIES, HASH_PACK_VALUE


def attach(node):
    cfg = node.config

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

    set_compact_limits()
    for name in ("hashMaxListpackEntries", "hashMaxListpackValue", "setMaxIntsetEntries"):
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
