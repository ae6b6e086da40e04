"""Outgoing TCP connections of the node (a replica's link to its master),
from Redis's ``bind-source-addr`` when it is set.

Redis binds those sockets on a best-effort basis (anet.c,
ANET_CONNECT_BE_BINDING): when the source address cannot be bound or the
connection from it fails, it connects again without one.
"""
import logging
import socket

from .. import config as cfg

log = logging.getLogger("nodensync")

cfg.declare("bindSourceAddr", "str", "", "Source address of the node's outgoing connections "
            "(a replica's link to its master; Redis's name). '' lets the system choose; an "
            "address that cannot be bound is skipped, as in Redis (best effort).",
            redis="bind-source-addr", mutable=True, group="network")


def connect(host, port, timeout, source=""):
    """A connected TCP socket to host:port (``timeout`` for the connect;
    the socket keeps it), bound to ``source`` first when given."""
    if source:
        try:
            return _connect(host, port, timeout, source)
        except socket.timeout:
            raise
        except OSError as e:
            log.debug("Connecting to %s:%d from %s failed (%s): trying without it",
                      host, port, source, e)
    return socket.create_connection((host, port), timeout=timeout)


def _connect(host, port, timeout, source):
    err = None
    for family, kind, proto, _name, addr in socket.getaddrinfo(host, port, 0,
                                                               socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _bind_source(sock, family, source)
            sock.settimeout(timeout)
            sock.connect(addr)
            return sock
        except OSError as e:
            sock.close()
            if isinstance(e, socket.timeout):
                raise
            err = e
    raise err if err is not None else OSError("no address for %s" % host)


def _bind_source(sock, family, source):
    """Bind to the first address of ``source`` that takes (getaddrinfo
    picks IPv4 or IPv6 for us, as in Redis)."""
    err = None
    for info in socket.getaddrinfo(source, None, family, socket.SOCK_STREAM):
        try:
            sock.bind(info[4])
            return
        except OSError as e:
            err = e
    raise err if err is not None else OSError("bind: no address for %s" % source)
