"""Importing this package registers every command (one module per group)."""
from . import connection, server, keys, strings, hashes, lists  # noqa: F401
