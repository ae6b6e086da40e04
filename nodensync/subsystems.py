"""Wires every subsystem into a Node.  Each module listed here has an
``attach(node)`` that installs its hooks, settings listeners and background
greenlets; the order is the order of start-up."""
import importlib

MODULES = [
    "nodensync.server.core",
]


def attach(node):
    for name in MODULES:
        importlib.import_module(name).attach(node)
