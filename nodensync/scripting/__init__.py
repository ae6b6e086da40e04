"""Lua scripting (EVAL, functions): the engine; the commands are in
commands/scripting.py and commands/functions.py."""
import logging

log = logging.getLogger("nodensync")


def attach(node):
    """Functions are saved in RDB files and sent in full resyncs: give the
    persistence layer our libraries, and take theirs."""
    from ..commands.functions import store_of
    p = getattr(node, "persistence", None)
    if p is None:
        return

    def load(codes):
        try:
            store_of(node).replace_all(codes)
        except Exception as e:
            log.warning("Failed loading the function libraries: %s", getattr(e, "message", e))
    p.function_provider = lambda: store_of(node).codes()
    p.function_loader = load
