"""Importing this package registers every command (one module per group)."""
from . import connection, server, keys, strings, hashes, sets, zsets, lists  # noqa: F401
from . import bitmaps, sort, modules, geo, hyperloglog, debug  # noqa: F401
from . import streams, stream_groups  # noqa: F401
from . import monitoring  # noqa: F401  (after connection: adds CLIENT PAUSE/UNPAUSE)
from . import transactions, pubsub, monitor  # noqa: F401
from . import persistence  # noqa: F401
from . import replication  # noqa: F401
from . import acl  # noqa: F401
from . import cluster  # noqa: F401
from . import scripting, functions  # noqa: F401
