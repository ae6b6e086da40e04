"""What the benchmark scripts share: the loopback address, free ports, core
pinning and waiting for a server to answer PING."""
import os
import shutil
import socket
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"


def free_port(headroom=0):
    """A port the OS says is free (with ``headroom``: one that leaves room
    for port + headroom, e.g. a cluster bus port at +10000)."""
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port + headroom <= 65535:
            return port


def pin(core):
    """taskset prefix pinning a process to ``core`` (nothing on one core)."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core % os.cpu_count())]
    return []


def wait_ping(port, timeout=30):
    """Until the server on ``port`` answers PING with +PONG."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("no PING answer on port %d" % port)
