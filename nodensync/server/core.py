"""Core background work: active expiry, idle-client timeout, settings that
apply to the keyspace."""


def attach(node):
    cfg = node.config

    def set_notify(value):
        node.keyspace.notify_flags = parse_notify_flags(value)

    set_notify(cfg["notifyKeyspaceEvents"])
    cfg.on_change("notifyKeyspaceEvents", set_notify)
    node.start_hooks.append(lambda: node.spawn_background(node.expire_loop))
    node.start_hooks.append(lambda: node.spawn_background(node.clients_cron))


def parse_notify_flags(text):
    """Redis's notify-keyspace-events letters, validated and with 'A'
    expanded.  Empty string means notifications are off."""
    allowed = set("KEg$lshzxetmdnA")
    if any(c not in allowed for c in text):
        raise ValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    flags = text.replace("A", "g$lshzxetd")
    if "K" not in flags and "E" not in flags:
        return ""
    return "".join(sorted(set(flags)))
