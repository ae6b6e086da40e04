"""Operations: the sd_notify protocol against a datagram socket the test
owns, the systemd unit (systemd-analyze verify), the default conf file, the
nodensync-health check (against NodeNsync and redis-server) and the
generated docs."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from servers import RawClient, ROOT, HOST, free_port, temp_dir

UNIT = os.path.join(ROOT, "conf", "nodensync.service")
CONF = os.path.join(ROOT, "conf", "nodensync.conf")
HEALTH = os.path.join(ROOT, "scripts", "nodensync-health")


class NotifySocket:
    """The systemd side of sd_notify: a datagram socket the server writes to."""

    def __init__(self, abstract=False):
        self.dir = temp_dir("sdn-")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "nodensync-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = os.path.join(self.dir, "notify")
            self.sock.bind(self.address)
        self.messages = []

    def wait_for(self, line, timeout=20.0):
        """Datagrams until one holding ``line``; returns that datagram's lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            lines = data.split("\n")
            self.messages.append(lines)
            if line in lines:
                return lines
        raise AssertionError("no %r within %.0fs; got %r" % (line, timeout, self.messages))

    def drain(self, seconds):
        got = []
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return got
            self.sock.settimeout(remaining)
            try:
                got.append(self.sock.recv(4096).decode().split("\n"))
            except socket.timeout:
                return got

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify():
    n = NotifySocket()
    yield n
    n.close()


def ping_once(port):
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        return s.recv(100)


def test_ready_after_serving_and_stopping_on_sigterm(server_factory, notify):
    s = server_factory(env={"NOTIFY_SOCKET": notify.address}, wait=False)
    ready = notify.wait_for("READY=1")
    # READY means serving: the very first PING after it is answered
    assert ping_once(s.port) == b"+PONG\r\n"
    assert "MAINPID=%d" % s.pid in ready
    assert any(line.startswith("STATUS=") for line in ready)
    c = RawClient(s.port)
    try:
        server_info = c.call("INFO", "server").decode()
        assert "process_supervised:systemd" in server_info
    finally:
        c.close()
    os.kill(s.pid, signal.SIGTERM)
    stopping = notify.wait_for("STOPPING=1")
    assert "STOPPING=1" in stopping
    assert s.proc.wait(30) == 0


def test_abstract_notify_socket(server_factory):
    n = NotifySocket(abstract=True)
    try:
        s = server_factory(env={"NOTIFY_SOCKET": n.address}, wait=False)
        n.wait_for("READY=1")
        assert ping_once(s.port) == b"+PONG\r\n"
    finally:
        n.close()


def test_watchdog_pings(server_factory, notify):
    server_factory(env={"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "200000"},
                   wait=False)
    notify.wait_for("READY=1")
    notify.wait_for("WATCHDOG=1", timeout=10)
    notify.wait_for("WATCHDOG=1", timeout=10)


def test_watchdog_for_another_pid_is_ignored(server_factory, notify):
    s = server_factory(env={"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "100000",
                            "WATCHDOG_PID": "1"}, wait=False)
    notify.wait_for("READY=1")
    later = notify.drain(1.0)
    assert not any("WATCHDOG=1" in m for m in notify.messages + later)
    assert s.proc.poll() is None


def test_supervised_no_never_notifies(server_factory, notify):
    s = server_factory("--supervised", "no", env={"NOTIFY_SOCKET": notify.address})
    assert ping_once(s.port) == b"+PONG\r\n"
    assert notify.drain(1.0) == []
    s.stop()
    assert notify.drain(0.5) == []


def test_sighup_reload_keeps_ready(server_factory, notify):
    s = server_factory(env={"NOTIFY_SOCKET": notify.address}, wait=False)
    notify.wait_for("READY=1")
    os.kill(s.pid, signal.SIGHUP)
    reloading = notify.wait_for("RELOADING=1")
    assert any(line.startswith("MONOTONIC_USEC=") for line in reloading)
    notify.wait_for("READY=1")
    assert ping_once(s.port) == b"+PONG\r\n"


# -- the unit file ----------------------------------------------------------------------------
def _systemd_analyze():
    exe = shutil.which("systemd-analyze")
    if exe is None and shutil.which("apt-get") and os.geteuid() == 0:
        try:
            subprocess.run(["apt-get", "install", "-y", "-qq", "systemd"], timeout=300,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        except (OSError, subprocess.TimeoutExpired):
            pass
        exe = shutil.which("systemd-analyze")
    return exe


def test_unit_file_verifies():
    exe = _systemd_analyze()
    if exe is None:
        pytest.skip("systemd-analyze is not installed and the 'systemd' package could not "
                    "be installed (scripts/test.sh installs it)")
    with open(UNIT) as f:
        text = f.read()
    # ExecStart points at the install path; verify checks that the program
    # exists, so point it at a stand-in with the same arguments.
    d = temp_dir("unit-")
    try:
        stand_in = os.path.join(d, "nodensync")
        with open(stand_in, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(stand_in, 0o755)
        assert "/opt/nodensync/bin/nodensync" in text
        unit = os.path.join(d, "nodensync.service")
        with open(unit, "w") as f:
            f.write(text.replace("/opt/nodensync/bin/nodensync", stand_in))
        r = subprocess.run([exe, "verify", unit], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        ours = [line for line in r.stderr.splitlines() if "nodensync.service" in line]
        assert ours == [], ours
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_unit_file_contents():
    with open(UNIT) as f:
        text = f.read()
    settings = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            settings.setdefault(k.strip(), v.strip())
    assert settings["Type"] == "notify"
    assert settings["NotifyAccess"] == "main"
    assert int(settings["WatchdogSec"]) > 0
    assert settings["Restart"] == "on-failure"
    assert settings["User"] == "nodensync"
    assert settings["LimitNOFILE"] == "65536"
    # (a starved snapshot child may be put back from idle to normal priority)
    assert settings["LimitNICE"] == "20"
    assert settings["ProtectSystem"] == "strict"
    assert settings["ReadWritePaths"] == "/var/lib/nodensync"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["PrivateTmp"] == "yes"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "--config /etc/nodensync/nodensync.conf" in settings["ExecStart"]


# -- the default configuration file ----------------------------------------------------------
def _core_settings():
    with open(os.path.join(ROOT, "nodensync", "config.py")) as f:
        return re.findall(r'^declare\("(\w+)"', f.read(), re.M)


def test_default_conf_documents_every_core_setting_with_its_default():
    with open(CONF) as f:
        lines = f.read().splitlines()
    names = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\w+)\s", line + " ")
        if m and not line.startswith("#"):
            names[m.group(1)] = i
    core = _core_settings()
    assert core
    for name in core:
        assert name in names, name
        assert lines[names[name] - 1].startswith("#"), "%s has no comment" % name
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import nodensync.cli\n"
            "from nodensync import config as cfg, commands, subsystems\n"
            "c = cfg.load(['--config', %r])\n"
            "bad = [n for n in c.values if n in %r and c.values[n] != cfg.SETTINGS[n].default]\n"
            "print(bad)\n" % (ROOT, CONF, sorted(names)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
    assert "listenAddr 127.0.0.1:6379" in lines and "dataDir ./data" in lines


def test_server_starts_from_the_default_conf(server_factory):
    s = server_factory("--config", CONF)   # listenAddr/dataDir flags override the file
    c = RawClient(s.port)
    try:
        assert c.call("CONFIG", "GET", "slowlog-max-len") == [b"slowlog-max-len", b"128"]
        assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"10000"]
    finally:
        c.close()


def test_config_rewrite_of_the_default_conf_restarts(server_factory, tmp_path):
    """CONFIG REWRITE keeps the file loadable: empty values stay empty."""
    conf = str(tmp_path / "nodensync.conf")
    shutil.copy(CONF, conf)
    s = server_factory("--config", conf)
    c = RawClient(s.port)
    try:
        assert c.call("CONFIG", "SET", "maxclients", "500") == b"OK"
        assert c.call("CONFIG", "REWRITE") == b"OK"
    finally:
        c.close()
    with open(conf) as f:
        text = f.read()
    assert "maxclients 500" in text and "# Log file; empty logs" in text
    s.restart()
    c = RawClient(s.port)
    try:
        assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"500"]
        assert c.call("CONFIG", "GET", "logfile") == [b"logfile", b""]
        assert c.call("CONFIG", "GET", "metricsAddr") == [b"metricsAddr", b""]
    finally:
        c.close()


# -- nodensync-health -------------------------------------------------------------------------
def health(*args, env=None):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("NODENSYNC_") or k == "REDISCLI_AUTH":
            del e[k]
    e.update(env or {})
    r = subprocess.run([sys.executable, HEALTH] + list(args), capture_output=True, text=True,
                       timeout=60, env=e)
    return r.returncode, r.stdout.strip(), r.stderr


def test_health_help_and_bad_options():
    rc, out, _ = health("--help")
    assert rc == 0 and "usage: nodensync-health" in out and "CRITICAL" in out
    rc, _, err = health("--no-such-option")
    assert rc == 3


def test_health_ok_and_critical(server_factory):
    s = server_factory()
    rc, out, _ = health("--port", str(s.port))
    assert rc == 0, out
    assert out.startswith("NODENSYNC OK - 127.0.0.1:%d" % s.port) and "role master" in out
    assert "connected_clients=" in out
    rc, out, _ = health(env={"NODENSYNC_PORT": str(s.port)})
    assert rc == 0, out
    port = free_port()
    rc, out, _ = health("--port", str(port), "--timeout", "2")
    assert rc == 2 and out.startswith("NODENSYNC CRITICAL - cannot connect")


def _wait_noauth(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ping_once(port).startswith(b"-NOAUTH"):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("redis-server on %d did not start" % port)


def test_health_reads_the_conf_file_and_password(redis_factory):
    r = redis_factory("--requirepass", "s3cret", wait=False)
    _wait_noauth(r.port)
    d = temp_dir("nodensync-")
    try:
        conf = os.path.join(d, "nodensync.conf")
        with open(conf, "w") as f:
            f.write("# test\nlistenAddr 127.0.0.1:%d\nrequirepass \"s3cret\"\n" % r.port)
        rc, out, _ = health("--config", conf)
        assert rc == 0, out
        assert "s3cret" not in out
        rc, out, _ = health("--config", conf, env={"NODENSYNC_PASSWORD": "wrong"})
        assert rc == 3 and "authentication refused" in out and "wrong" not in out
        rc, out, _ = health("--port", str(r.port))
        assert rc == 3 and "NOAUTH" in out
        rc, out, _ = health("--config", os.path.join(d, "missing.conf"))
        assert rc == 3
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_health_memory_against_maxmemory(redis_factory):
    r = redis_factory("--maxmemory", "2mb")
    rc, out, _ = health("--port", str(r.port), "--warn-memory", "1", "--crit-memory", "99")
    assert rc == 1 and "of maxmemory" in out and "used_memory=" in out
    rc, out, _ = health("--port", str(r.port), "--warn-memory", "1", "--crit-memory", "2")
    assert rc == 2
    rc, out, _ = health("--port", str(r.port))
    assert rc == 0, out


def test_health_replica_link_down(redis_factory):
    dead = free_port()
    r = redis_factory("--replicaof", HOST, str(dead))
    rc, out, _ = health("--port", str(r.port))
    assert rc == 2 and "master link down" in out
    rc, out, _ = health("--port", str(r.port), "--no-replication")
    assert rc == 0, out


# -- generated docs ---------------------------------------------------------------------------
def test_gen_docs():
    d = temp_dir("gendocs-")
    try:
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        r = subprocess.run([sys.executable, "-m", "nodensync", "--gen-docs"], cwd=d, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(d, "docs", "settings.md")) as f:
            settings = f.read()
        with open(os.path.join(d, "docs", "commands.md")) as f:
            commands = f.read()
        for name in _core_settings() + ["slowlogLogSlowerThan", "metricsAddr", "logFormat"]:
            assert "`%s`" % name in settings, name
        assert "slowlog-log-slower-than" in settings
        for needle in ("`SLOWLOG\\|GET`", "`LATENCY\\|HISTOGRAM`", "`MEMORY\\|USAGE`",
                       "`CLIENT\\|PAUSE`", "`GET`", "## server", "@admin"):
            assert needle in commands, needle
        row = [line for line in commands.splitlines() if line.startswith("| `GET` |")][0]
        assert "`GET key`" in row and "| 2 |" in row and "readonly" in row
        # every table row has the same number of cells as the header
        for line in commands.splitlines():
            if line.startswith("| `"):
                assert len(re.findall(r"(?<!\\)\|", line)) == 8, line
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- with a data set to load (persistence subsystem) ------------------------------------------
def test_ready_and_readyz_wait_for_the_data_set(server_factory, notify, tmp_path):
    """A real load (the persistence subsystem's key-load-delay slows it down):
    /readyz answers 503 while loading, READY=1 comes only once the data set
    is there.  Skipped while no persistence subsystem is registered."""
    import urllib.error
    import urllib.request
    data = str(tmp_path / "data")
    os.makedirs(data)
    s1 = server_factory(data_dir=data)
    c = RawClient(s1.port)
    try:
        assert c.call("CONFIG", "GET", "key-load-delay") != []
        for start in range(0, 3000, 500):
            args = []
            for i in range(start, start + 500):
                args += ["key:%d" % i, "v"]
            c.call("MSET", *args)
        assert c.call("SAVE") == b"OK"
    finally:
        c.close()
    s1.stop()
    http_port = free_port()
    s2 = server_factory("--keyLoadDelay", "1000", "--metricsAddr", "%s:%d" % (HOST, http_port),
                        data_dir=data, env={"NOTIFY_SOCKET": notify.address}, wait=False)

    def readyz():
        try:
            with urllib.request.urlopen("http://%s:%d/readyz" % (HOST, http_port),
                                        timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return None, b""

    seen_loading = False
    ready = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and ready is None:
        status, body = readyz()
        if status == 503 and b"loading" in body:
            seen_loading = True
            assert not any("READY=1" in m for m in notify.messages)
        for m in notify.drain(0.05):
            notify.messages.append(m)
            if "READY=1" in m:
                ready = m
    assert seen_loading and ready is not None
    assert readyz()[0] == 200
    c = RawClient(s2.port)
    try:
        assert c.call("DBSIZE") == 3000
    finally:
        c.close()


def _make_certs(d):
    """A CA and a server certificate for 127.0.0.1 (openssl)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=nodensync-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext")


def test_health_over_tls_from_the_conf_file(redis_factory, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (scripts/test.sh installs it)")
    d = str(tmp_path)
    _make_certs(d)
    tls_port = free_port()
    try:
        r = redis_factory("--tls-port", str(tls_port), "--tls-cert-file", os.path.join(d, "server.crt"),
                          "--tls-key-file", os.path.join(d, "server.key"),
                          "--tls-ca-cert-file", os.path.join(d, "ca.crt"),
                          "--tls-auth-clients", "no")
    except RuntimeError as e:
        pytest.skip("redis-server without TLS support: %s" % e)
    conf = os.path.join(d, "nodensync.conf")
    with open(conf, "w") as f:
        f.write("listenAddr 127.0.0.1:%d\nenableTLS yes\ntlsPort %d\ntlsCACert %s\n"
                % (r.port, tls_port, os.path.join(d, "ca.crt")))
    deadline = time.monotonic() + 15
    while True:
        rc, out, _ = health("--config", conf)
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rc == 0 and "(TLS)" in out, out
    # without the CA the server certificate cannot be verified
    rc, out, _ = health("--port", str(tls_port), "--tls")
    assert rc == 2 and "TLS handshake" in out


def test_stopping_sent_when_the_shutdown_begins(server_factory, notify):
    """STOPPING=1 goes out when the shutdown begins (Redis's
    prepareForShutdown), not after the final save: here a save slowed to
    about 2 s by rdb-key-save-delay."""
    s = server_factory("--rdb-key-save-delay", "100000", env={"NOTIFY_SOCKET": notify.address},
                       wait=False)
    notify.wait_for("READY=1")
    c = RawClient(s.port)
    try:
        c.call("MSET", *[x for i in range(20) for x in ("k%d" % i, "v")])
    finally:
        c.close()
    os.kill(s.pid, signal.SIGTERM)
    notify.wait_for("STOPPING=1")
    t = time.monotonic()
    assert s.proc.wait(30) == 0
    assert time.monotonic() - t > 1.0             # (the save came after STOPPING)
