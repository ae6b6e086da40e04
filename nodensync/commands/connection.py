"""Connection commands: PING, ECHO, QUIT, SELECT, RESET, HELLO, AUTH, CLIENT."""
import re

from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, PONG, Status, Verbatim, NO_REPLY
from .registry import (command, container, FAST, NO_AUTH, LOADING, STALE, PUBSUB,
                       ADMIN, NOSCRIPT, SENTINEL, ALLOW_BUSY, NO_MULTI)
from .util import parse_int

G = "connection"


@command("ping", arity=-1, flags=FAST | SENTINEL, group=G, syntax="[message]")
def ping(ctx, *message):
    """Ping the server."""
    if len(message) > 1:
        raise errors.wrong_arity("ping")
    if ctx.subscribed and not ctx.resp3:
        return [b"pong", message[0] if message else b""]
    return message[0] if message else PONG


@command("echo", arity=2, flags=FAST | LOADING | STALE, group=G, syntax="message")
def echo(ctx, message):
    """Echo the given string."""
    return message


@command("quit", arity=-1, flags=FAST | NO_AUTH | LOADING | STALE | ALLOW_BUSY | NOSCRIPT,
         group=G, syntax="")
def quit_(ctx, *args):
    """Close the connection."""
    ctx.close_after_reply = True
    return OK


@command("select", arity=2, flags=FAST | LOADING | STALE, group=G, syntax="index")
def select(ctx, index):
    """Change the selected database for the current connection."""
    n = parse_int(index)
    if ctx.node.cluster is not None and n != 0:
        raise CommandError("ERR SELECT is not allowed in cluster mode")
    dbs = ctx.node.keyspace.dbs
    if not 0 <= n < len(dbs):
        raise CommandError(errors.DB_INDEX)
    ctx.db = dbs[n]
    return OK


@command("reset", arity=1, flags=FAST | NO_AUTH | LOADING | STALE | NOSCRIPT | ALLOW_BUSY,
         group=G, since="6.2.0", syntax="")
def reset(ctx):
    """Reset the connection."""
    node = ctx.node
    for hook in node.reset_hooks:
        hook(ctx)
    ctx.multi = None
    ctx.multi_error = False
    ctx.db = node.keyspace.dbs[0]
    ctx.resp3 = False
    ctx.name = None
    ctx.no_evict = ctx.no_touch = False
    ctx.asking = ctx.readonly_cluster = False
    if node.acl is not None:
        node.acl.reset_client(ctx)
    return Status(b"RESET")


@command("auth", arity=-2, flags=FAST | NO_AUTH | LOADING | STALE | NOSCRIPT | ALLOW_BUSY,
         group=G, syntax="[username] password")
def auth(ctx, *args):
    """Authenticate to the server."""
    if len(args) > 2:
        raise CommandError(errors.SYNTAX)
    user, password = (args if len(args) == 2 else (b"default", args[0]))
    acl = ctx.node.acl
    if acl is None:
        if len(args) == 1:
            raise CommandError("ERR AUTH <password> called without any password configured "
                               "for the default user. Are you sure your configuration is correct?")
        if user != b"default":
            raise CommandError(errors.WRONGPASS)
        return OK
    acl.authenticate(ctx, user, password, legacy=len(args) == 1)
    return OK


@command("hello", arity=-1, flags=FAST | NO_AUTH | LOADING | STALE | NOSCRIPT | SENTINEL | ALLOW_BUSY,
         group=G, since="6.0.0", syntax="[protover [AUTH username password] [SETNAME clientname]]")
def hello(ctx, *args):
    """Handshake with the server."""
    ver = None
    if args:
        try:
            ver = int(args[0])
        except ValueError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        if ver < 2 or ver > 3:
            raise CommandError(errors.NOPROTO)
    i = 1
    auth_pair = None
    setname = None
    while i < len(args):
        opt = args[i].lower()
        more = len(args) - i - 1
        if opt == b"auth" and more >= 2:
            auth_pair = (args[i + 1], args[i + 2])
            i += 3
        elif opt == b"setname" and more >= 1:
            setname = args[i + 1]
            i += 2
        else:
            raise CommandError("ERR Syntax error in HELLO option '%s'"
                               % args[i].decode("utf-8", "replace"))
    if auth_pair is not None:
        acl = ctx.node.acl
        if acl is not None:
            acl.authenticate(ctx, auth_pair[0], auth_pair[1], legacy=False)
        elif auth_pair[0] != b"default":
            raise CommandError(errors.WRONGPASS)
    if not ctx.authenticated:
        raise CommandError("NOAUTH HELLO must be called with the client already "
                           "authenticated, otherwise the HELLO AUTH <user> <pass> "
                           "option can be used to authenticate the client and select the "
                           "RESP protocol version at the same time")
    if setname is not None:
        _check_client_name(setname)
        ctx.name = setname or None
    if ver is not None:
        ctx.resp3 = ver == 3
    node = ctx.node
    return {
        b"server": b"redis",
        b"version": node.redis_version.encode(),
        b"proto": 3 if ctx.resp3 else 2,
        b"id": ctx.id,
        b"mode": b"cluster" if node.cluster is not None else b"standalone",
        b"role": node.role_name().encode(),
        b"modules": [],
    }


# -- CLIENT -------------------------------------------------------------------------
container("client", group=G, since="2.4.0", summary="A container for client connection commands.")

_NAME_RE = re.compile(rb"^[!-~]*$")


def _check_client_name(name):
    if not _NAME_RE.match(name):
        raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


@command("client|id", arity=2, flags=NOSCRIPT | LOADING | STALE, group=G, since="5.0.0", syntax="")
def client_id(ctx):
    """Returns the client ID for the current connection."""
    return ctx.id


@command("client|setname", arity=3, flags=NOSCRIPT | LOADING | STALE, group=G, since="2.6.9",
         syntax="connection-name")
def client_setname(ctx, name):
    """Set the current connection name."""
    _check_client_name(name)
    ctx.name = name or None
    return OK


@command("client|getname", arity=2, flags=NOSCRIPT | LOADING | STALE, group=G, since="2.6.9",
         syntax="")
def client_getname(ctx):
    """Get the current connection name."""
    return ctx.name


@command("client|setinfo", arity=4, flags=NOSCRIPT | LOADING | STALE, group=G, since="7.2.0",
         syntax="<LIB-NAME libname | LIB-VER libver>")
def client_setinfo(ctx, attr, value):
    """Set client or connection specific info."""
    a = attr.lower()
    if a not in (b"lib-name", b"lib-ver"):
        raise CommandError("ERR Unrecognized option '%s'" % attr.decode("utf-8", "replace"))
    if not _NAME_RE.match(value):
        raise CommandError("ERR %s cannot contain spaces, newlines or special characters."
                           % a.decode())
    if a == b"lib-name":
        ctx.lib_name = value or None
    else:
        ctx.lib_ver = value or None
    return OK


@command("client|info", arity=2, flags=NOSCRIPT | LOADING | STALE, group=G, since="6.2.0", syntax="")
def client_info(ctx):
    """Returns information about the current client connection."""
    return Verbatim(ctx.info_line() + "\n")


_TYPES = {b"normal", b"master", b"replica", b"slave", b"pubsub"}


def _client_type(c):
    if c.is_master:
        return b"master"
    if c.is_replica:
        return b"replica"
    if c.subscribed:
        return b"pubsub"
    return b"normal"


@command("client|list", arity=-2, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
         since="2.4.0", syntax="[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]")
def client_list(ctx, *args):
    """Lists open connections."""
    clients = sorted(ctx.node.clients.values(), key=lambda c: c.id)
    if args:
        opt = args[0].lower()
        if opt == b"type" and len(args) == 2:
            t = args[1].lower()
            if t not in _TYPES:
                raise CommandError("ERR Unknown client type '%s'" % args[1].decode("utf-8", "replace"))
            t = b"replica" if t == b"slave" else t
            clients = [c for c in clients if _client_type(c) == t]
        elif opt == b"id" and len(args) >= 2:
            ids = set()
            for a in args[1:]:
                try:
                    v = int(a)
                except ValueError:
                    v = -1
                if v <= 0:
                    raise CommandError("ERR Invalid client ID")
                ids.add(v)
            clients = [c for c in clients if c.id in ids]
        else:
            raise CommandError(errors.SYNTAX)
    return Verbatim("".join(c.info_line() + "\n" for c in clients))


@command("client|kill", arity=-3, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
         since="2.4.0", syntax="<ip:port | [ID client-id] [TYPE type] [USER username] "
                              "[ADDR ip:port] [LADDR ip:port] [SKIPME <YES | NO>] [MAXAGE maxage]>")
def client_kill(ctx, *args):
    """Kills open connections."""
    node = ctx.node
    if len(args) == 1:
        addr = args[0].decode("utf-8", "replace")
        for c in list(node.clients.values()):
            if c.addr_text == addr:
                c.close_soon(ctx)
                return OK
        raise CommandError("ERR No such client")
    if len(args) % 2:
        raise CommandError(errors.SYNTAX)
    filters = []
    skipme = True
    for i in range(0, len(args), 2):
        opt, val = args[i].lower(), args[i + 1]
        if opt == b"id":
            try:
                cid = int(val)
            except ValueError:
                cid = 0
            if cid <= 0:
                raise CommandError("ERR client-id should be greater than 0")
            filters.append(lambda c, cid=cid: c.id == cid)
        elif opt == b"type":
            t = val.lower()
            if t not in _TYPES:
                raise CommandError("ERR Unknown client type '%s'" % val.decode("utf-8", "replace"))
            t = b"replica" if t == b"slave" else t
            filters.append(lambda c, t=t: _client_type(c) == t)
        elif opt == b"user":
            u = val.decode("utf-8", "replace")
            if node.acl is not None and not node.acl.has_user(u):
                raise CommandError("ERR No such user '%s'" % u)
            filters.append(lambda c, u=u: c.user == u)
        elif opt == b"addr":
            a = val.decode("utf-8", "replace")
            filters.append(lambda c, a=a: c.addr_text == a)
        elif opt == b"laddr":
            a = val.decode("utf-8", "replace")
            filters.append(lambda c, a=a: c.laddr_text == a)
        elif opt == b"skipme":
            v = val.lower()
            if v not in (b"yes", b"no"):
                raise CommandError(errors.SYNTAX)
            skipme = v == b"yes"
        elif opt == b"maxage":
            age = parse_int(val)
            import time
            filters.append(lambda c, age=age: time.time() - c.created >= age)
        else:
            raise CommandError(errors.SYNTAX)
    killed = 0
    for c in list(node.clients.values()):
        if skipme and c is ctx:
            continue
        if all(f(c) for f in filters):
            c.close_soon(ctx)
            killed += 1
    return killed


def _on_off(value):
    v = value.lower()
    if v == b"on":
        return True
    if v == b"off":
        return False
    raise CommandError(errors.SYNTAX)


@command("client|no-evict", arity=3, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
         since="7.0.0", syntax="<ON | OFF>")
def client_no_evict(ctx, flag):
    """Set client eviction mode for the current connection."""
    ctx.no_evict = _on_off(flag)
    return OK


@command("client|no-touch", arity=3, flags=NOSCRIPT | LOADING | STALE, group=G,
         since="7.2.0", syntax="<ON | OFF>")
def client_no_touch(ctx, flag):
    """Controls whether commands sent by the client affect the LRU/LFU of accessed keys."""
    ctx.no_touch = _on_off(flag)
    return OK


@command("client|reply", arity=3, flags=NOSCRIPT | LOADING | STALE, group=G, since="3.2.0",
         syntax="<ON | OFF | SKIP>")
def client_reply(ctx, mode):
    """Instruct the server whether to reply to commands."""
    m = mode.lower()
    if m == b"on":
        ctx.reply_mode = None
        return OK
    if m in (b"off", b"skip"):
        ctx.reply_mode = m
        return NO_REPLY
    raise CommandError(errors.SYNTAX)


@command("client|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="")
def client_help(ctx):
    """Show helpful text about the different subcommands."""
    from .introspection import container_help
    return container_help("client")
