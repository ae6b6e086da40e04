"""The listening sockets: gevent StreamServers, client admission, graceful stop.

A ``Listener`` serves one port on every address of Redis's ``bind`` list
(one socket each, as Redis's listenToPort) and can move to another port or
address list at run time (``CONFIG SET port`` / ``CONFIG SET bind``).
"""
import errno
import logging
import os
import socket

import gevent
from gevent.pool import Pool
from gevent.server import StreamServer

from .. import config as cfg
from .client import Client

log = logging.getLogger("nodensync")

BIND_MAX = 16       # Redis's CONFIG_BINDADDR_MAX


def parse_bind(text):
    """Redis's bind list: addresses separated by spaces (* = every IPv4
    address, ::* = every IPv6 one, a leading '-' = skip it when the host
    does not have it); empty = listen nowhere."""
    hosts = tuple(text.split())
    if len(hosts) > BIND_MAX:
        raise ValueError("Too many bind addresses specified.")
    return hosts


# Redis's names for the listener that listenAddr (config.py) also sets:
# config.Config ties the three together (port and bind win when given).
cfg.declare("port", "int", 6379, "TCP port to listen on (Redis's name; --listenAddr sets it "
            "too, port and bind win when given). CONFIG SET moves the listener: 0 closes it.",
            redis="port", mutable=True, minimum=0, maximum=65535, group="network")
cfg.declare("bind", "str", ("127.0.0.1",), "Addresses to listen on, space separated (Redis's "
            "name; --listenAddr sets the first): '*' every IPv4 address, '::*' every IPv6 one, "
            "'-addr' skipped when the host lacks it, '' none. CONFIG SET moves the listener.",
            redis="bind", mutable=True, parser=parse_bind, formatter=" ".join,
            group="network")



def parse_octal(text):
    """Redis's OCTAL_CONFIG numbers (unixsocketperm): strtoll base 8, the
    whole text consumed."""
    t = text.strip()
    try:
        if not t or t[0] in "+-" and not t[1:2].isdigit():
            raise ValueError
        return int(t, 8)
    except ValueError:
        raise ValueError("argument couldn't be parsed as an octal number") from None


def _check_perm(value):
    if not 0 <= value <= 0o777:
        raise ValueError("argument must be between 0 and 777 inclusive")


cfg.declare("unixsocket", "path", "", "Path of a Unix domain socket to listen on besides TCP "
            "('' = none; Redis's name). A stale file at the path is replaced at start; the "
            "file is removed at shutdown. TLS does not apply to it.",
            redis="unixsocket", group="network")
cfg.declare("unixsocketperm", "int", 0, "Permissions of the Unix socket file, in octal "
            "(Redis's name; 0 = as the umask leaves them, e.g. 700 or 770).",
            redis="unixsocketperm", parser=parse_octal, formatter=lambda v: "%o" % v,
            validate=_check_perm, group="network")

_MAXCLIENTS_REPLY = b"-ERR max number of clients reached\r\n"
TLS_HANDSHAKE_TIMEOUT = 10.0


class _Acceptor(StreamServer):
    """Accepts connections and runs one Client greenlet each.

    The pool is unbounded so that a client over ``maxclients`` is accepted
    and told why it is refused (as Redis does) instead of waiting in the
    kernel's backlog.
    """

    def __init__(self, node, sock, ssl_context=None, client_class=Client, unix_path=None):
        self.node = node
        self.client_class = client_class
        self.is_tls = ssl_context is not None
        self.unix_path = unix_path       # a Unix domain socket's path (no TCP options)
        kw = {}
        if ssl_context is not None:
            kw["ssl_context"] = ssl_context
        super().__init__(sock, self.handle_connection, spawn=Pool(None), **kw)

    def handle_connection(self, sock, address):
        node = self.node
        node.stats.connections_received += 1
        if len(node.clients) >= node.config["maxclients"] or node.shutting_down:
            node.stats.rejected_connections += 1
            try:
                sock.sendall(_MAXCLIENTS_REPLY)
            except OSError:
                pass
            sock.close()
            return
        if self.unix_path is not None:
            log.debug("Accepted connection to %s", self.unix_path)
            client = self.client_class(node, sock, address, unix_path=self.unix_path)
            return self._serve(client)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            keepalive = node.config["tcpKeepalive"]
            if keepalive:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                if hasattr(socket, "TCP_KEEPIDLE"):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, keepalive // 3))
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        except OSError:
            sock.close()
            return
        return self._serve(self.client_class(node, sock, address, tls=self.is_tls))

    def _serve(self, client):
        node = self.node
        client.greenlet = gevent.getcurrent()
        node.clients[client.id] = client
        for hook in node.client_open_hooks:
            hook(client)
        client.serve()

    def wrap_socket_and_handle(self, client_socket, address):
        # A TLS handshake failure (plain text on the TLS port, no client
        # certificate) or a peer silent for TLS_HANDSHAKE_TIMEOUT only ends
        # that connection; log it quietly.
        try:
            client_socket.settimeout(TLS_HANDSHAKE_TIMEOUT)
            ssl_socket = self.wrap_socket(client_socket, **self.ssl_args)
            ssl_socket.settimeout(None)
        except (OSError, ValueError) as e:
            log.info("TLS handshake with %s failed: %s", address, e)
            try:
                client_socket.close()
            except OSError:
                pass
            return None
        try:
            return self.handle(ssl_socket, address)
        finally:
            try:
                ssl_socket.close()
            except OSError:
                pass


class Listener:
    """The node's listening port: one acceptor per bind address.

    ``hosts`` is Redis's bind list: ``*`` is every IPv4 address, ``::*``
    every IPv6 one, a leading ``-`` makes an address optional (skipped when
    it does not exist on this host); an empty list listens nowhere."""

    def __init__(self, node, address, ssl_context=None, client_class=Client, hosts=None):
        self.node = node
        self.ssl_context = ssl_context
        self.client_class = client_class
        self.is_tls = ssl_context is not None
        self.wrap = None                 # a new TLS context's wrap_socket (tls.reload)
        host, self.port = address
        self.hosts = list(hosts) if hosts is not None else [host]
        self.acceptors = []
        self.started = False
        if self.port:           # (port 0: no TCP listener, as Redis)
            self._open(self.hosts, self.port)

    def _open(self, hosts, port):
        socks = listen_all(hosts, port, self.node.config["tcpBacklog"])
        self.acceptors = [_Acceptor(self.node, s, self.ssl_context, self.client_class)
                          for s in socks]
        if self.wrap is not None:
            for a in self.acceptors:
                a.wrap_socket = self.wrap

    def start(self):
        self.started = True
        for a in self.acceptors:
            a.start()

    def close(self):
        self.started = False
        self._close_acceptors()

    def _close_acceptors(self):
        for a in self.acceptors:
            try:
                a.close()
            except Exception:
                pass
        self.acceptors = []

    @property
    def server_port(self):
        return self.acceptors[0].server_port if self.acceptors else self.port

    @property
    def wrap_socket(self):
        return self.acceptors[0].wrap_socket if self.acceptors else self.wrap

    @wrap_socket.setter
    def wrap_socket(self, fn):
        self.wrap = fn
        for a in self.acceptors:
            a.wrap_socket = fn

    def rebind(self, hosts, port):
        """Listen on ``port`` of ``hosts`` instead (Redis's changeListenPort
        / changeBindAddr: the old sockets are closed first, so the same port
        can be taken again; port 0 or no address listens nowhere).  Raises
        OSError, listening nowhere, when an address cannot be bound."""
        self._close_acceptors()
        self.hosts, self.port = list(hosts), port
        if port == 0:
            return
        self._open(self.hosts, port)
        if self.started:
            for a in self.acceptors:
                a.start()


class UnixListener:
    """The Unix domain socket (Redis's ``unixsocket``): the same acceptor
    and Client as TCP (maxclients, timeout, ACL, protected mode, rate
    limits apply alike), without the TCP options.  A stale file at the
    path is replaced; ``close(unlink=True)`` removes it (at shutdown)."""

    def __init__(self, node, path, perm=0, client_class=Client):
        self.node = node
        self.path = path
        sock = unix_listen(path, perm, node.config["tcpBacklog"])
        self.acceptor = _Acceptor(node, sock, client_class=client_class, unix_path=path)

    def start(self):
        self.acceptor.start()

    def close(self, unlink=False):
        try:
            self.acceptor.close()
        except Exception:
            pass
        if unlink:
            log.info("Removing the unix socket file.")
            try:
                os.unlink(self.path)
            except OSError as e:
                log.warning("Error removing the unix socket file: %s", e.strerror or e)


_SUN_PATH_MAX = 108     # sizeof(sockaddr_un.sun_path) on Linux


def unix_listen(path, perm, backlog):
    """A listening Unix socket at ``path`` (an old file there is removed
    first, as Redis does), chmod'ed to ``perm`` when not 0.  OSError with
    Redis's text on a failure."""
    if len(path.encode("utf-8", "surrogateescape")) > _SUN_PATH_MAX - 1:
        raise OSError(errno.ENAMETOOLONG, "unix socket path too long (%d), must be under %d"
                      % (len(path), _SUN_PATH_MAX))
    try:
        os.unlink(path)
    except OSError:
        pass        # (as Redis: no matter if it fails)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    step = "bind"
    try:
        sock.bind(path)
        if perm:
            try:
                os.chmod(path, perm)
            except OSError:
                pass        # (Redis does not check its chmod either)
        step = "listen"
        sock.listen(backlog)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, "%s: %s" % (step, e.strerror or e)) from None
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


# Errors that skip an address rather than fail the whole bind (listenToPort):
# the protocol family is missing; a missing address is only skipped when it
# was marked optional with '-'.
_SKIPPED = {errno.ENOPROTOOPT, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT,
            errno.EPFNOSUPPORT, errno.EAFNOSUPPORT}


def bind_host(addr):
    """A bind-list entry -> the address to bind (no '-' mark; * and ::*)."""
    addr = addr[1:] if addr.startswith("-") else addr
    return {"*": "0.0.0.0", "::*": "::"}.get(addr, addr.strip("[]"))


def listen_all(hosts, port, backlog):
    """One listening socket per address of ``hosts``; on a failure the
    sockets already open are closed and the OSError raised."""
    socks = []
    try:
        for addr in hosts:
            try:
                socks.append(_bind((bind_host(addr), port), backlog))
            except OSError as e:
                log.warning("Warning: Could not create server TCP listening socket %s:%d: %s",
                            bind_host(addr), port, e)
                if (e.errno == errno.EADDRNOTAVAIL and addr.startswith("-")) \
                        or e.errno in _SKIPPED:
                    continue
                raise
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def _bind(address, backlog):
    host, port = address
    try:
        family = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0,
                                    socket.AI_PASSIVE | socket.AI_NUMERICHOST)[0][0]
    except socket.gaierror:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # As Redis (anetV6Only): '::' next to '0.0.0.0' on one port.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def attach(node):
    """(A subsystem: its settings are declared before the command line is
    parsed; the listener itself is made by cli.main.)"""
    watch_config(node)


def watch_config(node):
    """CONFIG SET port / bind move the listener, as Redis 7.0 does; a
    failure is reported with Redis's texts and CONFIG SET puts the old
    value (and listener) back."""
    config = node.config

    def move(hosts, port, error):
        listener = node.listener
        if listener is None:
            return
        try:
            listener.rebind(hosts, port)
        except OSError as e:
            log.warning("Failed to listen on %s port %d: %s", " ".join(hosts), port, e)
            raise ValueError(error) from None
        node.tcp_port = port
        host = bind_host(hosts[0]) if hosts else config.values["listenAddr"][0]
        config.values["listenAddr"] = (host, port)

    config.on_change("port", lambda port: move(
        config["bind"], port, "Unable to listen on this port. Check server logs."))
    config.on_change("bind", lambda hosts: move(
        hosts, config["port"], "Failed to bind to specified addresses."))
