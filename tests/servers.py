"""Real server processes for tests: NodeNsync and redis-server on loopback
ports the OS picks, stopped by PID at teardown."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import hiredis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"


_TEMP_DIRS = []


def temp_dir(prefix="nodensync-test-"):
    """A new temporary directory, removed when this test process exits
    (whatever a test's teardown did with the server that used it)."""
    d = tempfile.mkdtemp(prefix=prefix)
    _TEMP_DIRS.append(d)
    return d


@atexit.register
def _remove_temp_dirs():
    for d in _TEMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)


_HANDED_OUT = set()


def free_port():
    """A port the OS reports free, never one this process handed out before
    (a port given to a server that binds it later -- a cluster bus port --
    could otherwise be given to the next server too)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free port the tests have not used yet")


def wait_ping(port, timeout=15.0, proc=None, tls=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                data = s.recv(100)
                if data.startswith(b"+PONG"):
                    return
                last = data
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError("server on port %d did not answer PING: %r" % (port, last))


class ServerProcess:
    """Base: a subprocess we own; ``stop()`` ends it by PID."""

    def __init__(self):
        self.proc = None
        self.port = None
        self.dir = None
        self.log_path = None

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def cleanup(self):
        self.stop()
        if self.dir and self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class NodeServer(ServerProcess):
    """``python -m nodensync`` with its own data dir and log file."""

    def __init__(self, *args, port=None, data_dir=None, wait=True, env=None, prefix=()):
        super().__init__()
        self.prefix = list(prefix)      # a command that execs the server (setpriv ...)
        self.own_dir = data_dir is None
        self.dir = data_dir or temp_dir("nodensync-test-")
        self.args = list(args)
        self.port = port or free_port()
        self.log_path = os.path.join(self.dir, "server.log")
        self.env = env
        self.start(wait)

    def start(self, wait=True):
        cmd = self.prefix + [sys.executable, "-m", "nodensync", "--listenAddr",
                             "%s:%d" % (HOST, self.port), "--dataDir", self.dir] + self.args
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        if self.env:
            env.update(self.env)
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.dir)
        if wait:
            try:
                wait_ping(self.port, proc=self.proc)
            except RuntimeError:
                self.stop()
                raise RuntimeError("NodeNsync did not start:\n" + self.log())
        return self

    def restart(self, wait=True):
        self.stop()
        return self.start(wait)


class RedisServer(ServerProcess):
    """A real redis-server (the reference) with persistence off by default."""

    def __init__(self, *args, port=None, data_dir=None, wait=True):
        super().__init__()
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed: run scripts/install-test-deps.sh")
        self.own_dir = data_dir is None
        self.dir = data_dir or temp_dir("redis-ref-")
        self.port = port or free_port()
        self.log_path = os.path.join(self.dir, "redis.log")
        base = ["--port", str(self.port), "--bind", HOST, "--dir", self.dir,
                "--logfile", self.log_path, "--daemonize", "no"]
        if "--save" not in args:
            base += ["--save", ""]
        self.proc = subprocess.Popen([exe] + base + list(args), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.dir)
        if wait:
            wait_ping(self.port, proc=self.proc)


class RawClient:
    """A plain socket speaking RESP: sends one command, returns the exact
    bytes of one reply (framed with hiredis) or its parsed form."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.reader = hiredis.Reader()
        self.pending = b""

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, (int, float)):
                a = repr(a).encode() if isinstance(a, float) else b"%d" % a
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_reply_bytes(self):
        """Bytes of exactly one reply."""
        buf = self.pending
        reader = hiredis.Reader()
        if buf:
            reader.feed(buf)
            got = reader.gets()
            if got is not False:
                raise RuntimeError("read_reply_bytes needs one reply at a time")
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("connection closed; got %r" % buf)
            buf += chunk
            reader.feed(chunk)
            if reader.gets() is not False:
                # Everything received so far is this reply (one command at a time).
                self.pending = b""
                return buf

    def call_raw(self, *args):
        self.sock.sendall(self.encode(args))
        return self.read_reply_bytes()

    def call(self, *args):
        self.sock.sendall(self.encode(args))
        return self.read_reply()

    def read_reply(self):
        while True:
            r = self.reader.gets()
            if r is not False:
                return r
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("connection closed")
            self.reader.feed(chunk)

    def recv_all(self, timeout=1.0):
        """Everything that arrives until the peer closes or ``timeout`` of silence."""
        self.sock.settimeout(timeout)
        data = b""
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        return data

    def close(self):
        self.sock.close()
