"""Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

The state and delivery live in ``pubsub/broker.py`` (``node.pubsub``).

(Un)subscribe commands answer with one message per channel, as Redis does,
so a handler returns the concatenated encoded messages (``Raw``): inside
EXEC they land in the EXEC reply at the command's place, exactly like
Redis's output buffer.  Messages are arrays in RESP2 and pushes in RESP3.
A RESP2 client with at least one subscription is in subscribed mode
(``client.subscribed``; dispatch allows it only the Pub/Sub commands, PING,
QUIT and RESET).  Shard channels behave as on a non-cluster Redis: a
separate namespace with its own subscription count.
"""
from .. import errors
from ..errors import CommandError
from ..protocol.resp import Push, RawPush, ReplicaOnly, encode, status_lines
from .registry import (command, container, PUBSUB, NOSCRIPT, LOADING, STALE, FAST,
                       MAY_REPLICATE)

G = "pubsub"


def _replies(ctx, kind, items):
    """Encode (kind, name, count) messages for the client's protocol (sent
    even under CLIENT REPLY OFF|SKIP, as Redis does)."""
    resp3 = ctx.resp3
    return RawPush(b"".join(encode(Push([kind, name, count]), resp3) for name, count in items))


def _count(ctx):
    return len(ctx.channels) + len(ctx.patterns)


@command("subscribe", arity=-2, flags=PUBSUB | NOSCRIPT | LOADING | STALE, group=G,
         since="2.0.0", syntax="channel [channel ...]")
def subscribe(ctx, *channels):
    """Listen for messages published to the given channels."""
    broker = ctx.node.pubsub
    out = []
    for ch in channels:
        broker.subscribe(ctx, ch)
        out.append((ch, _count(ctx)))
    return _replies(ctx, b"subscribe", out)


@command("psubscribe", arity=-2, flags=PUBSUB | NOSCRIPT | LOADING | STALE, group=G,
         since="2.0.0", syntax="pattern [pattern ...]")
def psubscribe(ctx, *patterns):
    """Listen for messages published to channels matching the given patterns."""
    broker = ctx.node.pubsub
    out = []
    for p in patterns:
        broker.psubscribe(ctx, p)
        out.append((p, _count(ctx)))
    return _replies(ctx, b"psubscribe", out)


@command("ssubscribe", arity=-2, flags=PUBSUB | NOSCRIPT | LOADING | STALE, keys=(1, -1, 1),
         group=G, since="7.0.0", syntax="shardchannel [shardchannel ...]")
def ssubscribe(ctx, *channels):
    """Listen for messages published to the given shard channels."""
    broker = ctx.node.pubsub
    out = []
    for ch in channels:
        broker.subscribe(ctx, ch, shard=True)
        out.append((ch, len(ctx.shard_channels)))
    return _replies(ctx, b"ssubscribe", out)


def _unsubscribe(ctx, kind, names, current, remove, count):
    """Shared by the three UNSUBSCRIBE forms: the named ones, or every
    current one; a client with none gets a single message with a null name."""
    out = []
    for name in (names or list(current)):
        remove(name)
        out.append((name, count()))
    if not out:
        out.append((None, count()))
    return _replies(ctx, kind, out)


@command("unsubscribe", arity=-1, flags=PUBSUB | NOSCRIPT | LOADING | STALE, group=G,
         since="2.0.0", syntax="[channel [channel ...]]")
def unsubscribe(ctx, *channels):
    """Stop listening for messages posted to the given channels."""
    broker = ctx.node.pubsub
    return _unsubscribe(ctx, b"unsubscribe", channels, ctx.channels,
                        lambda ch: broker.unsubscribe(ctx, ch), lambda: _count(ctx))


@command("punsubscribe", arity=-1, flags=PUBSUB | NOSCRIPT | LOADING | STALE, group=G,
         since="2.0.0", syntax="[pattern [pattern ...]]")
def punsubscribe(ctx, *patterns):
    """Stop listening for messages posted to channels matching the given patterns."""
    broker = ctx.node.pubsub
    return _unsubscribe(ctx, b"punsubscribe", patterns, ctx.patterns,
                        lambda p: broker.punsubscribe(ctx, p), lambda: _count(ctx))


@command("sunsubscribe", arity=-1, flags=PUBSUB | NOSCRIPT | LOADING | STALE, keys=(1, -1, 1),
         group=G, since="7.0.0", syntax="[shardchannel [shardchannel ...]]")
def sunsubscribe(ctx, *channels):
    """Stop listening for messages posted to the given shard channels."""
    broker = ctx.node.pubsub
    return _unsubscribe(ctx, b"sunsubscribe", channels, ctx.shard_channels,
                        lambda ch: broker.unsubscribe(ctx, ch, shard=True),
                        lambda: len(ctx.shard_channels))


@command("publish", arity=3, flags=PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, group=G,
         since="2.0.0", syntax="channel message")
def publish(ctx, channel, message):
    """Post a message to a channel."""
    node = ctx.node
    node.stats.pubsub_channels_published += 1
    receivers = node.pubsub.publish(channel, message)
    _to_replicas(ctx, b"PUBLISH", channel, message)
    return receivers


@command("spublish", arity=3, flags=PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
         keys=(1, 1, 1), group=G, since="7.0.0", syntax="shardchannel message")
def spublish(ctx, channel, message):
    """Post a message to a shard channel."""
    receivers = ctx.node.pubsub.spublish(channel, message)
    _to_replicas(ctx, b"SPUBLISH", channel, message)
    return receivers


def _to_replicas(ctx, name, channel, message):
    """As Redis outside cluster mode: the message goes on to the replicas
    (whose subscribers get it too), not to the AOF."""
    node = ctx.node
    if node.propagators and node.cluster is None:
        node.propagate(ctx.db.id, [ReplicaOnly((name, channel, message))])


# -- PUBSUB -----------------------------------------------------------------------------
container("pubsub", group=G, since="2.8.0", summary="A container for Pub/Sub commands.")

_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


def _syntax_error(name):
    return errors.subcommand_syntax(name, "pubsub")


@command("pubsub|channels", arity=-2, flags=PUBSUB | LOADING | STALE, group=G, since="2.8.0",
         syntax="[pattern]")
def pubsub_channels(ctx, *pattern):
    """List active channels."""
    if len(pattern) > 1:
        raise _syntax_error(_typed_subcommand("channels"))
    return ctx.node.pubsub.active_channels(pattern[0] if pattern else None)


@command("pubsub|shardchannels", arity=-2, flags=PUBSUB | LOADING | STALE, group=G,
         since="7.0.0", syntax="[pattern]")
def pubsub_shardchannels(ctx, *pattern):
    """List active shard channels."""
    if len(pattern) > 1:
        raise _syntax_error(_typed_subcommand("shardchannels"))
    return ctx.node.pubsub.active_channels(pattern[0] if pattern else None, shard=True)


@command("pubsub|numsub", arity=-2, flags=PUBSUB | LOADING | STALE, group=G, since="2.8.0",
         syntax="[channel [channel ...]]")
def pubsub_numsub(ctx, *channels):
    """Get the count of subscribers for channels."""
    broker = ctx.node.pubsub
    out = []
    for ch in channels:
        out.append(ch)
        out.append(broker.numsub(ch))
    return out


@command("pubsub|shardnumsub", arity=-2, flags=PUBSUB | LOADING | STALE, group=G,
         since="7.0.0", syntax="[shardchannel [shardchannel ...]]")
def pubsub_shardnumsub(ctx, *channels):
    """Get the count of subscribers for shard channels."""
    broker = ctx.node.pubsub
    out = []
    for ch in channels:
        out.append(ch)
        out.append(broker.numsub(ch, shard=True))
    return out


@command("pubsub|numpat", arity=2, flags=PUBSUB | LOADING | STALE, group=G, since="2.8.0",
         syntax="")
def pubsub_numpat(ctx):
    """Get the count of unique patterns pattern subscriptions."""
    return len(ctx.node.pubsub.patterns)


@command("pubsub|help", arity=2, flags=LOADING | STALE, group=G, since="6.2.0", syntax="")
def pubsub_help(ctx):
    """Show helpful text about the different subcommands."""
    return status_lines(_HELP)


# Redis's table puts PUBSUB HELP in @slow alone (no @pubsub, unlike the
# group's other subcommands); ACL rules such as +@pubsub depend on it.
pubsub_help.spec.categories = ["slow"]


def _typed_subcommand(default):
    """The subcommand word as the client typed it (Redis echoes it in its
    syntax error).  Handlers only receive the arguments after it, so it is
    read from the ``argv`` of the dispatching frame."""
    import sys
    f = sys._getframe(2)
    for _ in range(8):
        if f is None:
            break
        argv = f.f_locals.get("argv")
        if type(argv) is list and len(argv) > 1 and type(argv[1]) is bytes:
            return argv[1].decode("utf-8", "replace")[:128]
        f = f.f_back
    return default
