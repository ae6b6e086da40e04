"""TLS: certificates generated here with the openssl CLI; redis-cli --tls and
redis-py ssl=True against NodeNsync; client certificates; plain text on the
TLS port; --tlsPort beside the plain port; certificate reload (CONFIG SET
and SIGHUP); protocol limits; client_context() for outgoing links."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest
import redis

from servers import HOST, free_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def _run(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def _issue(d, name, cn, ca="ca"):
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
         name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey",
         ca + ".key", "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile",
         name + ".ext", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
         "-out", "ca.crt", "-days", "2", "-subj", "/CN=NodeNsync Test CA", cwd=d)
    _issue(d, "server", "server-one")
    _issue(d, "server2", "server-two")
    _issue(d, "client", "client-one")
    # A second CA, to make a client certificate the server must refuse.
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "evil.key",
         "-out", "evil.crt", "-days", "2", "-subj", "/CN=Other CA", cwd=d)
    _issue(d, "intruder", "intruder", ca="evil")
    return {n: os.path.join(d, n) for n in os.listdir(d)} | {"dir": d}


def tls_ctx(certs, client_cert=True, ca=True, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca:
        ctx.load_verify_locations(certs["ca.crt"])
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert:
        name = "client" if client_cert is True else client_cert
        ctx.load_cert_chain(certs[name + ".crt"], certs[name + ".key"])
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def tls_call(port, ctx, *args, timeout=5.0):
    raw = socket.create_connection((HOST, port), timeout=timeout)
    s = ctx.wrap_socket(raw)
    try:
        s.sendall(_encode(args))
        return s.recv(65536)
    finally:
        s.close()


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def wait_tls(port, ctx, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = tls_call(port, ctx, "PING", timeout=2)
            if last.startswith(b"+PONG"):
                return
        except (OSError, ssl.SSLError) as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError("TLS server on %d not ready: %r" % (port, last))


def peer_cn(port, ctx):
    raw = socket.create_connection((HOST, port), timeout=5)
    s = ctx.wrap_socket(raw)
    try:
        cert = s.getpeercert()
        return dict(x[0] for x in cert["subject"])["commonName"]
    finally:
        s.close()


def tls_server(factory, certs, *extra, auth="no", port_arg=True):
    args = ["--enableTLS", "--tlsCert", certs["server.crt"], "--tlsKey", certs["server.key"],
            "--tlsCACert", certs["ca.crt"], "--tlsAuthClients", auth] + list(extra)
    s = factory(*args, wait=False)
    return s


def test_redis_cli_and_redis_py(server_factory, certs):
    s = tls_server(server_factory, certs)
    wait_tls(s.port, tls_ctx(certs, client_cert=False))
    out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(s.port), "--tls", "--cacert",
                          certs["ca.crt"], "SET", "k", "v"], capture_output=True, timeout=20)
    assert out.stdout.strip() == b"OK", out
    r = redis.Redis(host=HOST, port=s.port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                    ssl_check_hostname=False)
    assert r.get("k") == b"v"
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set("key%d" % i, "x" * 100)
    pipe.execute()
    assert r.dbsize() == 501
    big = os.urandom(3 * 1024 * 1024)
    r.set("big", big)
    assert r.get("big") == big
    # RESP3 over TLS too.
    r3 = redis.Redis(host=HOST, port=s.port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                     ssl_check_hostname=False, protocol=3)
    assert r3.ping()
    r.close()
    r3.close()
    # A plain-text client on the TLS port never gets a reply.
    c = socket.create_connection((HOST, s.port), timeout=5)
    c.sendall(b"*1\r\n$4\r\nPING\r\n")
    data = b""
    try:
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    assert b"PONG" not in data
    c.close()


def test_client_certificates_required(server_factory, certs):
    s = tls_server(server_factory, certs, auth="yes")
    wait_tls(s.port, tls_ctx(certs))
    assert tls_call(s.port, tls_ctx(certs), "PING") == b"+PONG\r\n"
    out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(s.port), "--tls", "--cacert",
                          certs["ca.crt"], "--cert", certs["client.crt"], "--key",
                          certs["client.key"], "PING"], capture_output=True, timeout=20)
    assert out.stdout.strip() == b"PONG", out
    # No certificate: refused.
    with pytest.raises((ssl.SSLError, OSError)):
        reply = tls_call(s.port, tls_ctx(certs, client_cert=False), "PING")
        assert reply == b""       # TLS 1.3 reports the refusal at the first read
        raise OSError("refused")
    r = redis.Redis(host=HOST, port=s.port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                    ssl_check_hostname=False, socket_timeout=5)
    with pytest.raises(redis.ConnectionError):
        r.ping()
    # A certificate from another CA: refused.
    with pytest.raises((ssl.SSLError, OSError)):
        reply = tls_call(s.port, tls_ctx(certs, client_cert="intruder"), "PING")
        assert reply == b""
        raise OSError("refused")
    # redis-py with a client certificate works.
    r = redis.Redis(host=HOST, port=s.port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                    ssl_certfile=certs["client.crt"], ssl_keyfile=certs["client.key"],
                    ssl_check_hostname=False)
    assert r.ping()
    r.close()


def test_bad_peers_do_not_harm_others(server_factory, certs):
    s = tls_server(server_factory, certs)
    ctx = tls_ctx(certs, client_cert=False)
    wait_tls(s.port, ctx)
    good = redis.Redis(host=HOST, port=s.port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                       ssl_check_hostname=False, socket_timeout=5)
    assert good.set("k", "v")
    silent = [socket.create_connection((HOST, s.port)) for _ in range(5)]   # never handshake
    for _ in range(5):
        plain = socket.create_connection((HOST, s.port), timeout=5)
        plain.sendall(b"*1\r\n$4\r\nPING\r\n" * 10 + os.urandom(300))
        try:
            plain.recv(4096)
        except OSError:
            pass
        plain.close()
        garbage = ctx.wrap_socket(socket.create_connection((HOST, s.port), timeout=5))
        garbage.sendall(b"\x00\xff" * 100 + b"\r\n")
        garbage.close()
    t0 = time.monotonic()
    for i in range(50):
        assert good.get("k") == b"v"
    assert time.monotonic() - t0 < 2.0
    for sock in silent:
        sock.close()
    good.close()
    log = s.log()
    assert "Traceback" not in log


def test_tls_port_beside_plain_port(server_factory, certs):
    tport = free_port()
    s = server_factory("--tlsPort", str(tport), "--tlsCert", certs["server.crt"], "--tlsKey",
                       certs["server.key"], "--tlsCACert", certs["ca.crt"])   # auto: CA -> yes
    plain = redis.Redis(host=HOST, port=s.port)
    assert plain.set("k", "v")
    wait_tls(tport, tls_ctx(certs))
    assert tls_call(tport, tls_ctx(certs), "GET", "k") == b"$1\r\nv\r\n"
    with pytest.raises((ssl.SSLError, OSError)):
        reply = tls_call(tport, tls_ctx(certs, client_cert=False), "PING")
        assert reply == b""
        raise OSError("refused")
    assert plain.config_get("tls-port") == {"tls-port": str(tport)}
    plain.close()


def test_certificate_reload(server_factory, certs, tmp_path):
    # Our own copies: SIGHUP re-reads the files in place.
    crt, key = str(tmp_path / "live.crt"), str(tmp_path / "live.key")
    shutil.copy(certs["server.crt"], crt)
    shutil.copy(certs["server.key"], key)
    s = server_factory("--enableTLS", "--tlsCert", crt, "--tlsKey", key, "--tlsCACert",
                       certs["ca.crt"], "--tlsAuthClients", "no", wait=False)
    ctx = tls_ctx(certs, client_cert=False)
    wait_tls(s.port, ctx)
    assert peer_cn(s.port, ctx) == "server-one"
    old = redis.Redis(host=HOST, port=s.port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                      ssl_check_hostname=False)
    assert old.ping()
    # CONFIG SET of cert and key together.
    assert old.config_set("tls-cert-file", certs["server2.crt"])   # pair mismatch until key
    assert old.execute_command("CONFIG", "SET", "tls-cert-file", certs["server2.crt"],
                               "tls-key-file", certs["server2.key"])
    time.sleep(0.2)
    assert peer_cn(s.port, ctx) == "server-two"
    assert old.ping()                              # established connection unaffected
    # A missing file is refused and the running certificate stays.
    with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
        old.config_set("tls-cert-file", str(tmp_path / "missing.crt"))
    assert peer_cn(s.port, ctx) == "server-two"
    # SIGHUP re-reads the configured files.
    assert old.execute_command("CONFIG", "SET", "tls-cert-file", crt, "tls-key-file", key)
    time.sleep(0.2)
    assert peer_cn(s.port, ctx) == "server-one"
    shutil.copy(certs["server2.crt"], crt)
    shutil.copy(certs["server2.key"], key)
    os.kill(s.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while peer_cn(s.port, ctx) != "server-two" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert peer_cn(s.port, ctx) == "server-two"
    assert old.ping()
    old.close()
    assert "Traceback" not in s.log()


def test_protocols_and_ciphers(server_factory, certs):
    s = tls_server(server_factory, certs, "--tlsProtocols", "TLSv1.3")
    ctx13 = tls_ctx(certs, client_cert=False)
    wait_tls(s.port, ctx13)
    with pytest.raises((ssl.SSLError, OSError)):
        tls_call(s.port, tls_ctx(certs, client_cert=False, version=ssl.TLSVersion.TLSv1_2),
                 "PING")
    bad = server_factory("--enableTLS", "--tlsCert", certs["server.crt"], wait=False)
    assert bad.proc.wait(20) == 1
    assert "Failed to configure TLS" in bad.log()
    bad2 = server_factory("--enableTLS", "--tlsCert", certs["server.crt"], "--tlsKey",
                          certs["server.key"], "--tlsAuthClients", "yes", wait=False)
    assert bad2.proc.wait(20) == 1
    assert "tls-ca-cert-file" in bad2.log()


def test_client_context_for_outgoing_links(server_factory, certs):
    """security.tls.client_context(): what replication uses to dial a TLS
    master that requires client certificates."""
    s = tls_server(server_factory, certs, auth="yes")
    wait_tls(s.port, tls_ctx(certs))
    from nodensync import config as cfg
    import nodensync.security  # noqa: F401  (declares the settings)
    from nodensync.security import tls as tls_mod
    conf = cfg.load(["--tlsCert", certs["client.crt"], "--tlsKey", certs["client.key"],
                     "--tlsCACert", certs["ca.crt"]])
    ctx = tls_mod.client_context(conf)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert tls_call(s.port, ctx, "PING") == b"+PONG\r\n"
    conf2 = cfg.load(["--tlsCACert", certs["evil.crt"]])
    with pytest.raises(ssl.SSLError):
        tls_call(s.port, tls_mod.client_context(conf2), "PING")
