"""Signals and logging: SIGHUP reopens the log file (logrotate), SIGTERM and
SIGINT stop cleanly with exit code 0, --logFormat json writes one JSON
object per line and never a secret."""
import json
import os
import signal
import time

import pytest

from servers import RawClient


def _wait(cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_sighup_reopens_the_log_file(server_factory, tmp_path):
    log = str(tmp_path / "nodensync.log")
    s = server_factory("--logFile", log)
    assert "Ready to accept connections" in _read(log)
    rotated = log + ".1"
    os.rename(log, rotated)
    os.kill(s.pid, signal.SIGHUP)
    # the new file appears with the reload line; the old one gets nothing more
    assert _wait(lambda: "Received SIGHUP" in _read(log))
    assert "Received SIGHUP" not in _read(rotated)
    c = RawClient(s.port)
    try:
        assert c.call("PING") == b"PONG"            # still serving
    finally:
        c.close()
    os.kill(s.pid, signal.SIGHUP)
    assert _wait(lambda: _read(log).count("Received SIGHUP") == 2)
    s.stop()
    assert "bye bye" in _read(log) and "bye bye" not in _read(rotated)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_exit_on_signal(server_factory, tmp_path, sig):
    log = str(tmp_path / "nodensync.log")
    s = server_factory("--logFile", log)
    c = RawClient(s.port)
    c.call("SET", "k", "v")
    try:
        os.kill(s.pid, sig)
        assert s.proc.wait(30) == 0
    finally:
        c.close()
    text = _read(log)
    assert "Received %s scheduling shutdown..." % sig.name in text     # (Redis's line)
    assert "bye bye" in text
    assert "Traceback" not in text


def test_json_log_format(server_factory, tmp_path):
    log = str(tmp_path / "nodensync.log")
    s = server_factory("--logFile", log, "--logFormat", "json")
    c = RawClient(s.port)
    try:
        c.call("AUTH", "nobody", "hunter2-secret")
        c.call("CONFIG", "SET", "loglevel", "debug")
    finally:
        c.close()
    os.kill(s.pid, signal.SIGHUP)
    assert _wait(lambda: "Received SIGHUP" in _read(log))
    s.stop()
    lines = [line for line in _read(log).splitlines() if line.strip()]
    assert lines
    docs = [json.loads(line) for line in lines]
    for d in docs:
        assert set(d) >= {"time", "pid", "role", "level", "logger", "message"}
        assert d["pid"] == s.pid
        assert d["level"] in ("debug", "notice", "warning", "error", "critical")
    messages = [d["message"] for d in docs]
    assert any(m == "Ready to accept connections" for m in messages)
    assert any("bye bye" in m for m in messages)
    assert "hunter2-secret" not in _read(log)


def test_bad_log_format_is_refused(server_factory):
    s = server_factory("--logFormat", "xml", wait=False)
    assert s.proc.wait(30) == 1
    assert "logFormat" in s.log()


def test_start_banner_once_listening(server_factory, redis_factory):
    """always-show-logo: the banner with the PID and the port (Redis's
    logo, which test harnesses wait for) once the listener is bound and
    before the data set loads; else Redis's 'Running mode=' line."""
    s = server_factory("--always-show-logo", "yes", "--appendonly", "yes")
    s.stop()
    s.start()
    text = s.log()
    start = text.rindex(" PID: %d\n" % s.pid)
    assert "Port: %d\n" % s.port in text and "Running in standalone mode" in text
    assert start < text.index("DB loaded from", start) < text.index("Ready to accept", start)
    plain = server_factory()
    assert "Running mode=standalone, port=%d." % plain.port in plain.log()
    assert " PID: %d" % plain.pid not in plain.log()
    ref = redis_factory()
    for port in (s.port, ref.port):
        c = RawClient(port)
        try:
            assert c.call_raw("CONFIG", "SET", "always-show-logo", "no") == \
                b"-ERR CONFIG SET failed (possibly related to argument 'always-show-logo') - " \
                b"can't set immutable config\r\n"
        finally:
            c.close()


@pytest.mark.parametrize("how", ["sigabrt", "segfault"])
def test_crash_report(server_factory, tmp_path, how):
    """crash-log-enabled (default yes): Redis's bug-report lines ('crashed
    by signal') and the Python stack in the log, then death by the signal."""
    log = str(tmp_path / "nodensync.log")
    s = server_factory("--logFile", log, "--enable-debug-command", "yes")
    c = RawClient(s.port)
    try:
        if how == "sigabrt":
            os.kill(s.pid, signal.SIGABRT)
        else:
            c.send_raw(c.encode(["DEBUG", "SEGFAULT"]))
        sig = signal.SIGABRT if how == "sigabrt" else signal.SIGSEGV
        assert s.proc.wait(15) == -sig
    finally:
        c.close()
    text = _read(log)
    assert "crashed by signal: %d (%s)" % (sig, sig.name) in text
    assert "=== REDIS BUG REPORT START" in text and "REDIS BUG REPORT END" in text
    if how == "segfault":
        assert "Fatal Python error: Segmentation fault" in text     # (faulthandler's stacks)


def test_crash_report_disabled(server_factory, tmp_path):
    log = str(tmp_path / "nodensync.log")
    s = server_factory("--logFile", log, "--crash-log-enabled", "no")
    os.kill(s.pid, signal.SIGABRT)
    assert s.proc.wait(15) == -signal.SIGABRT
    assert "crashed by signal" not in _read(log)


def test_port_in_use_logs_redis_lines(server_factory):
    """A port already taken: Redis's 'Failed listening on port N (TCP),
    aborting.' (test harnesses retry another port on it), exit code 1."""
    import socket
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        s = server_factory(port=port, wait=False)
        assert s.proc.wait(30) == 1
    finally:
        taken.close()
    text = s.log()
    assert "Could not create server TCP listening socket 127.0.0.1:%d" % port in text
    assert text.strip().splitlines()[-1].endswith("Failed listening on port %d (TCP), aborting."
                                                  % port)
