"""The listening socket: gevent StreamServer, client admission, graceful stop."""
import logging
import socket

import gevent
from gevent.pool import Pool
from gevent.server import StreamServer

from .client import Client

log = logging.getLogger("nodensync")

_MAXCLIENTS_REPLY = b"-ERR max number of clients reached\r\n"
TLS_HANDSHAKE_TIMEOUT = 10.0


class Listener(StreamServer):
    """Accepts connections and runs one Client greenlet each.

    The pool is unbounded so that a client over ``maxclients`` is accepted
    and told why it is refused (as Redis does) instead of waiting in the
    kernel's backlog.
    """

    def __init__(self, node, address, ssl_context=None, client_class=Client):
        self.node = node
        self.client_class = client_class
        self.is_tls = ssl_context is not None
        kw = {}
        if ssl_context is not None:
            kw["ssl_context"] = ssl_context
        listener = _bind(address, node.config["tcpBacklog"])
        super().__init__(listener, self.handle_connection, spawn=Pool(None), **kw)

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
        client = self.client_class(node, sock, address, tls=self.is_tls)
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


def _bind(address, backlog):
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock
