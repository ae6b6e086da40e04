"""pytest plugin (-p netguard): refuse every outgoing TCP connection except to
the two servers under test (ports in $COMPAT_PORTS), so no test of a foreign
suite reaches anything else (default ports, sentinels, remote hosts)."""
import os
import socket

_ports = {int(p) for p in os.environ.get("COMPAT_PORTS", "").split()}
_orig_connect = socket.socket.connect
_orig_connect_ex = socket.socket.connect_ex


def _allowed(address):
    if isinstance(address, tuple) and len(address) >= 2:
        return address[0] in ("127.0.0.1", "localhost", "::1") and int(address[1]) in _ports
    return False


def connect(self, address):
    if not _allowed(address):
        raise ConnectionRefusedError(111, "netguard: refused %r" % (address,))
    return _orig_connect(self, address)


def connect_ex(self, address):
    return _orig_connect_ex(self, address) if _allowed(address) else 111


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
