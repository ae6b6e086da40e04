"""A real Node and Client in the test process, for tests that must see what
a command propagates (the stream replicas and the AOF receive)."""
import socket


def in_process_node():
    """(node, client, sockets to close): the node has the whole command
    table and every setting; the client is connected to a socket pair."""
    from nodensync import subsystems  # noqa: F401  (declares every setting)
    import nodensync.commands  # noqa: F401
    from nodensync.config import Config
    from nodensync.node import Node
    from nodensync.server.client import Client
    node = Node(Config())
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    peer = socket.create_connection(srv.getsockname())
    conn, addr = srv.accept()
    srv.close()
    return node, Client(node, conn, addr), (peer, conn)


def run_capturing(commands):
    """Run ``commands`` (tuples of str/bytes) through dispatch on a fresh
    in-process node, ignoring error replies; returns (node, propagated argvs)."""
    from nodensync.commands.dispatch import dispatch
    from nodensync.errors import CommandError
    node, client, socks = in_process_node()
    stream = []
    node.propagators.append(lambda dbid, argvs: stream.extend(argvs))
    try:
        for cmd in commands:
            try:
                dispatch(client, [c if isinstance(c, bytes) else c.encode() for c in cmd])
            except CommandError:
                pass
    finally:
        for s in socks:
            s.close()
    return node, stream
