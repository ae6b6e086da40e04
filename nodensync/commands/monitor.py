"""MONITOR: stream every command the server executes to this connection.

A monitor is appended to ``node.monitors``; ``dispatch.call`` feeds it one
line per executed command (``node.feed_monitors`` / ``node.monitor_line``),
after the command ran, with Redis's format and secrets redacted.  Admin
commands are not shown.  Like a Redis monitor (a replica-like client), it
may not run commands that read or write the keyspace.  RESET and
disconnecting end monitoring (``pubsub/broker.attach``).
"""
from ..errors import CommandError
from ..protocol.resp import NO_REPLY, OK
from .registry import command, ADMIN, NOSCRIPT, LOADING, STALE


@command("monitor", arity=1, flags=ADMIN | NOSCRIPT | LOADING | STALE, group="server",
         since="1.0.0", syntax="")
def monitor(ctx):
    """Listen for all requests received by the server in real time."""
    if ctx.in_exec:
        # A client that expects one reply per command (inside EXEC) cannot
        # turn into a stream.
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if ctx.is_monitor or ctx.is_replica:
        return NO_REPLY      # Redis ignores it silently
    ctx.is_monitor = True
    ctx.node.monitors.append(ctx)
    return OK
