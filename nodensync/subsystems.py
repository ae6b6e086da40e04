"""Wires every subsystem into a Node.

Each module listed here has an ``attach(node)`` that installs its hooks,
settings listeners and background greenlets.  The modules are imported when
this module is imported, so every setting they ``declare`` exists before the
command line and conf file are parsed; ``attach`` runs in list order.
"""
import importlib

MODULES = [
    "nodensync.server.core",
    "nodensync.server.listener",
    "nodensync.server.oom",
    "nodensync.server.proctitle",
    "nodensync.security",
    "nodensync.observability",
    "nodensync.pubsub.broker",
    "nodensync.storage.persistence",
    "nodensync.scripting",
    "nodensync.replication",
    "nodensync.cluster",
]

_loaded = [importlib.import_module(name) for name in MODULES]


def attach(node):
    for module in _loaded:
        module.attach(node)
