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


def _vm_bytes(engine):
    if engine is None:
        return 0
    return int(engine.lua.eval("collectgarbage('count')") * 1024)


def memory(node):
    """INFO memory's scripting figures: the two Lua states' memory, the
    script cache and the libraries (their code and names)."""
    cache = getattr(node, "scripting", None)
    store = getattr(node, "functions", None)
    scripts = cache.scripts if cache is not None else {}
    libraries = store.libraries if store is not None else {}
    return {
        "vm_eval": _vm_bytes(cache.engine if cache is not None else None),
        "scripts_eval": sum(len(body) + 40 + 64 for body, _, _ in scripts.values()),
        "cached_scripts": len(scripts),
        "vm_functions": _vm_bytes(store._engine if store is not None else None),
        "functions": len(store.functions) if store is not None else 0,
        "libraries": len(libraries),
        "functions_overhead": sum(len(lib.code) + 64 + 64 * len(lib.functions)
                                  for lib in libraries.values()),
    }
