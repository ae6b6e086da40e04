"""Connection commands: PING, ECHO, QUIT, SELECT, RESET, HELLO, AUTH, CLIENT."""
import re

import gevent

from .. import config as cfg
from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, PONG, OrderedSet, Status, Verbatim, NO_REPLY
from .registry import (command, container, FAST, NO_AUTH, LOADING, STALE, PUBSUB,
                       ADMIN, NOSCRIPT, SENTINEL, ALLOW_BUSY, NO_MULTI, READONLY, WRITE,
                       MAY_REPLICATE)
from .util import parse_int, parse_int32

G = "connection"


@command("ping", arity=-1, flags=FAST | SENTINEL, group=G, syntax="[message]")
def ping(ctx, *message):
    """Ping the server."""
    if len(message) > 1:
        raise errors.wrong_arity("ping")
    if ctx._subscribed and not ctx.resp3:     # (the field behind the gating property)
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
    n = parse_int32(index)
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


@command("hello", summary='Handshake with Redis', arity=-1, flags=FAST | NO_AUTH | LOADING | STALE | NOSCRIPT | SENTINEL | ALLOW_BUSY,
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


@command("client|info", summary='Returns information about the current client connection.', arity=2, flags=NOSCRIPT | LOADING | STALE, group=G, since="6.2.0", syntax="")
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


@command("client|list", summary='Get the list of client connections', arity=-2, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
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


@command("client|kill", summary='Kill the connection of a client', arity=-3, flags=ADMIN | NOSCRIPT | LOADING | STALE, group=G,
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
    ev = ctx.node.client_eviction
    if ev is not None:          # (off: it may be the one to evict now)
        ev.update(ctx)
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
        if not (m == b"skip" and ctx.reply_mode == b"off"):   # SKIP leaves OFF as is
            ctx.reply_mode = m
        return NO_REPLY
    raise CommandError(errors.SYNTAX)


@command("client|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="")
def client_help(ctx):
    """Show helpful text about the different subcommands."""
    from .introspection import container_help
    return container_help("client")


# -- client-side caching: CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO ---------
# Redis 7.0's tracking.c.  Keys read by a tracking client (default mode) are
# remembered in one table shared by all databases (key -> client ids); when
# a command changes a key, or it expires, every client that read it gets one
# invalidation message and the key is forgotten.  BCAST clients get, once the
# running command is done, the keys changed under their prefixes.  Messages
# are RESP3 pushes (>2 invalidate [keys]), or Pub/Sub messages on
# __redis__:invalidate for a RESP2 client redirecting to a subscribed one;
# FLUSHDB/FLUSHALL invalidate everything with a null.  While any client
# tracks, a command listener sees every command (after it ran): it
# remembers the keys of read-only commands and invalidates the keys a
# command wrote when the dataset changed.
cfg.declare("trackingTableMaxKeys", "int", 1000000,
            "Most keys remembered for client-side caching (0 = no limit).",
            redis="tracking-table-max-keys", mutable=True, minimum=0, maximum=(1 << 63) - 1,
            group="limits")

_INVALIDATE = b">2\r\n$10\r\ninvalidate\r\n"
_INVALIDATE_CHANNEL = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_WRITE_KEY_FLAGS = frozenset(("RW", "OW", "RM"))


# Read-only script commands: tracking remembers the keys of the commands
# they run, not theirs.
_SCRIPT_RO = frozenset(("eval_ro", "evalsha_ro", "fcall_ro"))


class _TrackingOptions:
    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching",
                 "broken_redirect", "prefixes")

    def __init__(self):
        self.redirect = 0
        self.bcast = self.optin = self.optout = self.noloop = self.caching = False
        self.broken_redirect = False
        self.prefixes = {}        # prefix -> None, in the order given


class _Tracking:
    """The node's tracking tables (Redis's TrackingTable and PrefixTable)."""

    def __init__(self, node):
        self.node = node
        self.table = {}           # key -> {client id: None}
        self.items = 0
        self.prefixes = {}        # prefix -> [{client: None}, {key: modifying client}]
        self.clients = {}         # client id -> client, every client with tracking on
        self.last_dirty = node.keyspace.dirty
        self.broadcast_pending = False
        self.listening = False
        node.client_close_hooks.append(self.disable)
        node.reset_hooks.append(self.disable)
        # Redis applies a lowered limit from its cron, outside any command.
        node.config.on_change("trackingTableMaxKeys",
                              lambda *a: gevent.get_hub().loop.run_callback(self._limit))

    # -- listeners while anyone tracks ---------------------------------------------
    def _listen(self, on):
        node = self.node
        if on and not self.listening:
            self.last_dirty = node.keyspace.dirty
            node.command_listeners.append(self.on_command)
            node.keyspace.expired_listeners.append(self.on_expired)
            self.listening = True
        elif not on and self.listening:
            node.command_listeners.remove(self.on_command)
            node.keyspace.expired_listeners.remove(self.on_expired)
            self.listening = False

    def _stats(self):
        s = self.node.stats
        s.tracking_total_keys = len(self.table)
        s.tracking_total_items = self.items
        s.tracking_total_prefixes = len(self.prefixes)

    # -- enabling ---------------------------------------------------------------------
    def enable(self, client, redirect, bcast, optin, optout, noloop, prefixes):
        opts = getattr(client, "tracking_opts", None)
        if opts is None or not client.tracking:
            opts = client.tracking_opts = _TrackingOptions()
        client.tracking = True
        opts.redirect = redirect
        opts.broken_redirect = opts.optin = opts.optout = opts.noloop = False
        opts.bcast = bcast
        if bcast:
            for p in (prefixes or [b""]):
                state = self.prefixes.get(p)
                if state is None:
                    state = self.prefixes[p] = [{}, {}]
                if client not in state[0]:
                    state[0][client] = None
                    opts.prefixes[p] = None
        opts.optin, opts.optout, opts.noloop = optin, optout, noloop
        self.clients[client.id] = client
        self._listen(True)
        self._stats()

    def disable(self, client):
        if not getattr(client, "tracking", False):
            return
        opts = client.tracking_opts
        for p in opts.prefixes:
            state = self.prefixes.get(p)
            if state is not None:
                state[0].pop(client, None)
                if not state[0]:
                    del self.prefixes[p]
        client.tracking = False
        client.tracking_opts = _TrackingOptions()
        self.clients.pop(client.id, None)
        if not self.clients:
            self._listen(False)
        self._stats()

    # -- after every command ------------------------------------------------------------
    def on_command(self, client, spec, argv, usec):
        from .introspection import keys_with_flags
        ks = self.node.keyspace
        if ks.dirty != self.last_dirty:
            self.last_dirty = ks.dirty
            if spec.flags & (WRITE | MAY_REPLICATE) and (spec.first_key or spec.keys_fn):
                for i, flags in keys_with_flags(spec, argv):
                    if not flags or not _WRITE_KEY_FLAGS.isdisjoint(flags):
                        self.invalidate(argv[i], client)
        if not getattr(client, "tracking", False):
            return
        opts = client.tracking_opts
        in_script = client.in_script
        if spec.flags & READONLY and not opts.bcast and not spec.flags & PUBSUB \
                and not ((opts.optin and not opts.caching) or (opts.optout and opts.caching)):
            if in_script:
                # A read inside a script tracks the keys the script declared
                # (Redis remembers the caller's command's keys).
                keys = client.script_keys
            elif spec.name in _SCRIPT_RO:
                keys = ()           # (only the commands it runs count)
            else:
                keys = [argv[i] for i, _ in keys_with_flags(spec, argv)]
            table = self.table
            cid = client.id
            for key in keys:
                ids = table.get(key)
                if ids is None:
                    ids = table[key] = {}
                if cid not in ids:
                    ids[cid] = None
                    self.items += 1
            self._limit()
            self._stats()
        if opts.caching and client.multi is None and not client.in_exec \
                and not in_script and (spec.parent or spec).name != "client":
            opts.caching = False

    def on_expired(self, db, key):
        self.invalidate(key, None)

    def _limit(self):
        """tracking-table-max-keys: forget (and invalidate) the oldest keys."""
        limit = self.node.config.values.get("trackingTableMaxKeys", 0)
        if limit:
            while len(self.table) > limit:
                self.invalidate(next(iter(self.table)), None, bcast=False)

    # -- invalidation -----------------------------------------------------------------------
    def invalidate(self, key, modifier, bcast=True):
        if bcast and self.prefixes:
            for p, state in self.prefixes.items():
                if key.startswith(p):
                    state[1][key] = modifier
            if not self.broadcast_pending:
                self.broadcast_pending = True
                gevent.get_hub().loop.run_callback(self.broadcast)
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        current = gevent.getcurrent()
        clients = self.node.clients
        payload = b"*1\r\n$%d\r\n%s\r\n" % (len(key), key)
        for cid in ids:
            c = clients.get(cid)
            if c is None or not getattr(c, "tracking", False) or c.tracking_opts.bcast:
                continue
            is_current = getattr(c, "greenlet", None) is current
            if c.tracking_opts.noloop and is_current:
                continue
            self.send(c, payload, deferred=is_current)
        self._stats()

    def broadcast(self):
        self.broadcast_pending = False
        for p in sorted(self.prefixes):
            state = self.prefixes.get(p)
            if state is None or not state[1]:
                continue
            keys = sorted(state[1].items())
            state[1] = {}
            proto = b"*%d\r\n" % len(keys) + b"".join(
                b"$%d\r\n%s\r\n" % (len(k), k) for k, _ in keys)
            for c in list(state[0]):
                if c.tracking_opts.noloop:
                    mine = [k for k, who in keys if who is not c]
                    if mine:
                        self.send(c, b"*%d\r\n" % len(mine) + b"".join(
                            b"$%d\r\n%s\r\n" % (len(k), k) for k in mine))
                else:
                    self.send(c, proto)

    def flush(self):
        """FLUSHDB/FLUSHALL: every tracking client is told that all its keys
        are invalid (a null), and the table is emptied."""
        current = gevent.getcurrent()
        for c in list(self.clients.values()):
            is_current = getattr(c, "greenlet", None) is current
            self.send(c, b"_\r\n" if c.resp3 else b"$-1\r\n", deferred=is_current)
        self.table = {}
        self.items = 0
        self._stats()

    def send(self, client, payload, deferred=False):
        """Redis's sendTrackingMessage: to the client or its redirection."""
        opts = client.tracking_opts
        target = client
        redirected = False
        if opts.redirect:
            target = self.node.clients.get(opts.redirect)
            if target is None or target.closing:
                opts.broken_redirect = True
                if client.resp3:
                    msg = b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % opts.redirect
                    self._deliver(client, msg, deferred)
                return
            redirected = True
            deferred = deferred and target is client
        if target.resp3:
            msg = _INVALIDATE + payload
        elif redirected and target.subscribed:
            msg = _INVALIDATE_CHANNEL + payload
        else:
            return    # RESP2 without a subscribed redirection: nothing can be sent
        self._deliver(target, msg, deferred)

    @staticmethod
    def _deliver(target, msg, deferred):
        if deferred and target.after_reply is not None:
            target.after_reply.append(msg)   # after the reply of the running command
        else:
            target.send(msg)


def tracking_state(node, create=False):
    ks = node.keyspace
    st = getattr(ks, "tracking_state", None)
    if st is None and create:
        st = ks.tracking_state = _Tracking(node)
    return st


def tracking_flush(node):
    """Called by FLUSHDB and FLUSHALL."""
    st = tracking_state(node)
    if st is not None:
        st.flush()


def _prefix_overlap(a, b):
    return a.startswith(b) or b.startswith(a)


@command("client|tracking", arity=-3, flags=NOSCRIPT | LOADING | STALE, group=G, since="6.0.0",
         syntax="<ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] "
                "[OPTIN] [OPTOUT] [NOLOOP]",
         complexity="O(1). Some options may introduce additional complexity.")
def client_tracking(ctx, mode, *args):
    """Enable or disable server assisted client side caching support."""
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes = []
    i = 0
    n = len(args)
    while i < n:
        a = args[i].lower()
        more = n - 1 - i
        if a == b"redirect" and more:
            i += 1
            if redirect:
                raise CommandError("ERR A client can only redirect to a single other client")
            redirect = parse_int(args[i])
            if redirect not in ctx.node.clients:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif a == b"bcast":
            bcast = True
        elif a == b"optin":
            optin = True
        elif a == b"optout":
            optout = True
        elif a == b"noloop":
            noloop = True
        elif a == b"prefix" and more:
            i += 1
            prefixes.append(args[i])
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    m = mode.lower()
    tracking = getattr(ctx, "tracking", False)
    opts = getattr(ctx, "tracking_opts", None)
    if m == b"on":
        if not bcast and prefixes:
            raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
        if tracking and opts.bcast != bcast:
            raise CommandError("ERR You can't switch BCAST mode on/off before disabling tracking "
                               "for this client, and then re-enabling it with a different mode.")
        if bcast and (optin or optout):
            raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
        if optin and optout:
            raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
        if tracking and ((optin and opts.optout) or (optout and opts.optin)):
            raise CommandError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                               "for this client, and then re-enabling it with a different mode.")
        if bcast:
            mine = list(opts.prefixes) if tracking else []
            for j, p in enumerate(prefixes):
                for old in mine:
                    if _prefix_overlap(old, p):
                        raise CommandError(
                            "ERR Prefix '%s' overlaps with an existing prefix '%s'. Prefixes "
                            "for a single client must not overlap."
                            % (errors._printable(p), errors._printable(old)))
                for other in prefixes[j + 1:]:
                    if _prefix_overlap(p, other):
                        raise CommandError(
                            "ERR Prefix '%s' overlaps with another provided prefix '%s'. "
                            "Prefixes for a single client must not overlap."
                            % (errors._printable(p), errors._printable(other)))
        tracking_state(ctx.node, create=True).enable(ctx, redirect, bcast, optin, optout,
                                                     noloop, prefixes)
    elif m == b"off":
        st = tracking_state(ctx.node)
        if st is not None:
            st.disable(ctx)
    else:
        raise CommandError(errors.SYNTAX)
    return OK


@command("client|caching", arity=3, flags=NOSCRIPT | LOADING | STALE, group=G, since="6.0.0",
         syntax="<YES | NO>", complexity="O(1)")
def client_caching(ctx, mode):
    """Instruct the server about tracking or not keys in the next request."""
    if not getattr(ctx, "tracking", False):
        raise CommandError("ERR CLIENT CACHING can be called only when the client is in "
                           "tracking mode with OPTIN or OPTOUT mode enabled")
    opts = ctx.tracking_opts
    m = mode.lower()
    if m == b"yes":
        if not opts.optin:
            raise CommandError("ERR CLIENT CACHING YES is only valid when tracking is enabled "
                               "in OPTIN mode.")
    elif m == b"no":
        if not opts.optout:
            raise CommandError("ERR CLIENT CACHING NO is only valid when tracking is enabled "
                               "in OPTOUT mode.")
    else:
        raise CommandError(errors.SYNTAX)
    opts.caching = True
    return OK


@command("client|getredir", arity=2, flags=NOSCRIPT | LOADING | STALE, group=G, since="6.0.0",
         syntax="", complexity="O(1)")
def client_getredir(ctx):
    """Get tracking notifications redirection client ID if any."""
    if getattr(ctx, "tracking", False):
        return ctx.tracking_opts.redirect
    return -1


@command("client|trackinginfo", arity=2, flags=NOSCRIPT | LOADING | STALE, group=G,
         since="6.2.0", syntax="", complexity="O(1)")
def client_trackinginfo(ctx):
    """Return information about server assisted client side caching for the current connection."""
    on = getattr(ctx, "tracking", False)
    opts = getattr(ctx, "tracking_opts", None) if on else None
    flags = [b"on" if on else b"off"]
    if opts is not None:
        if opts.bcast:
            flags.append(b"bcast")
        if opts.optin:
            flags.append(b"optin")
            if opts.caching:
                flags.append(b"caching-yes")
        if opts.optout:
            flags.append(b"optout")
            if opts.caching:
                flags.append(b"caching-no")
        if opts.noloop:
            flags.append(b"noloop")
        if opts.broken_redirect:
            flags.append(b"broken_redirect")
    return {b"flags": OrderedSet(flags),
            b"redirect": opts.redirect if opts is not None else -1,
            b"prefixes": sorted(opts.prefixes) if opts is not None else []}
