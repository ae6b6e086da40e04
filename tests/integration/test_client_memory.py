"""Client memory has one source: Client.memory_usage (Redis's
getClientMemoryUsage) gives CLIENT LIST's tot-mem, client eviction's
figures, INFO memory's mem_clients_normal and what maxmemory counts for the
clients.  A replica's output buffer is its share of the replication buffer:
it shows in CLIENT LIST's omem and INFO's mem_clients_slaves and is left out
of what maxmemory counts (Redis's freeMemoryGetNotCountedMemory).  And a
slow script loaded from the AOF leaves other clients answered -LOADING.
Every scenario runs against redis-server too: the same statements hold
there."""
import os
import signal
import socket
import time

import pytest
import redis

from servers import HOST, NodeServer, RedisServer
from replication_support import wait_for, wait_link_up


@pytest.fixture(params=["node", "redis"])
def kind(request):
    return request.param


def _start(kind, started, *args, **kw):
    s = (NodeServer if kind == "node" else RedisServer)(*args, **kw)
    started.append(s)
    return s


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        try:
            os.kill(s.proc.pid, signal.SIGCONT)     # (a replica a test stopped)
        except OSError:
            pass
        s.cleanup()


def _raw(port, data, keep):
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall(data)
    keep.append(s)
    return s


def test_client_list_tot_mem_sums_to_mem_clients_normal(kind, servers):
    """Idle clients, a subscriber, a MULTI queue, WATCHed keys and a command
    half read: the sum of CLIENT LIST's tot-mem is INFO's
    mem_clients_normal, but for the client asking (CLIENT LIST counts the
    command it runs, the INFO figure weighs it between two commands)."""
    s = _start(kind, servers)
    keep = []
    r = redis.Redis(host=HOST, port=s.port)
    try:
        for _ in range(3):
            c = redis.Redis(host=HOST, port=s.port)
            c.ping()
            keep.append(c)
        p = redis.Redis(host=HOST, port=s.port).pubsub()
        p.subscribe(*["ch%d" % i for i in range(20)])
        p.psubscribe(*["pat%d*" % i for i in range(10)])
        keep.append(p)
        _raw(s.port, b"MULTI\r\n" + b"".join(
            b"*3\r\n$3\r\nSET\r\n$3\r\nk%d\r\n$1000\r\n%s\r\n" % (i, b"x" * 1000)
            for i in range(10, 60)), keep)
        _raw(s.port, b"WATCH " + b" ".join(b"w%d" % i for i in range(30)) + b"\r\n", keep)
        _raw(s.port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"a" * 40000, keep)

        def settled():
            # (Redis's INFO sums are brought up to date by its clients cron,
            # every client once a second)
            flags = [c["flags"] for c in r.client_list()]
            return "x" in flags and any(int(c["qbuf"]) >= 40000 for c in r.client_list())
        wait_for(settled, what="the clients' states")
        time.sleep(1.2)
        clients = r.client_list()
        normal = r.info("memory")["mem_clients_normal"]
        tot = sum(int(c["tot-mem"]) for c in clients if "S" not in c["flags"])
        me = next(c for c in clients if c["cmd"] == "client|list")
        allowance = int(me["qbuf"]) + int(me["argv-mem"]) + 64
        assert abs(tot - normal) <= allowance, (tot, normal, clients)
        by_flags = {c["flags"]: int(c["tot-mem"]) for c in clients}
        idle = min(int(c["tot-mem"]) for c in clients)
        # the states weigh what they hold
        assert by_flags["x"] > idle + 50 * 1000
        assert by_flags["P"] > idle
    finally:
        for c in keep:
            c.close()
        r.close()


def test_used_memory_counts_a_client_as_its_tot_mem(kind, servers):
    """What maxmemory counts for a client is its tot-mem: a MULTI queue of
    500 KB grows used_memory (and, here, the figure maxmemory compares:
    used_memory minus mem_not_counted_for_evict) by about that client's
    tot-mem."""
    s = _start(kind, servers)
    keep = []
    r = redis.Redis(host=HOST, port=s.port)
    try:
        before = r.info("memory")
        sock = _raw(s.port, b"CLIENT SETNAME queued\r\nMULTI\r\n" + b"".join(
            b"*3\r\n$3\r\nSET\r\n$3\r\nk%d\r\n$10000\r\n%s\r\n" % (i, b"x" * 10000)
            for i in range(10, 60)), keep)

        def queued():
            return next((c for c in r.client_list()
                         if c["name"] == "queued" and int(c["multi"]) == 50), None)
        line = wait_for(queued, what="the MULTI queue")
        after = r.info("memory")
        grown = after["used_memory"] - before["used_memory"]
        tot = int(line["tot-mem"])
        assert tot > 500000
        assert 0.8 * tot < grown < 1.25 * tot, (grown, tot)
        assert abs((after["used_memory"] - after["mem_not_counted_for_evict"])
                   - (before["used_memory"] - before["mem_not_counted_for_evict"]) - grown) < 4096
        sock.close()
    finally:
        for c in keep:
            c.close()
        r.close()


def test_paused_replica_output_counted_as_redis_does(kind, servers):
    """A replica that stops reading (SIGSTOP): the stream it has not taken
    grows its omem and INFO's mem_clients_slaves, is in used_memory and in
    mem_not_counted_for_evict, so maxmemory's figure (used_memory minus
    mem_not_counted_for_evict) stays where it was and nothing is evicted;
    after CLIENT KILL TYPE replica, mem_clients_slaves is 0 and that figure
    is still where it was (Redis's maxmemory.tcl 'slave buffer are counted
    correctly', smaller)."""
    master = _start(kind, servers)
    replica = _start(kind, servers)
    m = redis.Redis(host=HOST, port=master.port)
    rep = redis.Redis(host=HOST, port=replica.port)
    try:
        for j in range(20):
            m.setrange("key:%d" % j, 100000, "asdf")
        m.config_set("repl-timeout", "1200")
        m.config_set("client-output-buffer-limit", "replica 100000000 100000000 300")
        m.config_set("repl-backlog-size", str(16 * 1024))
        m.config_set("maxmemory-policy", "allkeys-random")
        rep.replicaof(HOST, master.port)
        wait_link_up(replica)
        rep.close()

        def counted(info):
            return info["used_memory"] - info["mem_not_counted_for_evict"]
        time.sleep(0.5)
        before = m.info("memory")
        m.config_set("maxmemory", str(counted(before) + 256 * 1024))
        os.kill(replica.proc.pid, signal.SIGSTOP)
        payload = b"A" * 100
        pipe = m.pipeline(transaction=False)
        for i in range(60000):
            pipe.setrange("key:0", 0, payload)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        during = m.info("memory")
        line = next(c for c in m.client_list() if "S" in c["flags"])
        slaves = during["mem_clients_slaves"]
        assert slaves > 2 * 1024 * 1024, during
        assert int(line["omem"]) >= slaves, line
        assert int(line["tot-mem"]) > int(line["omem"])
        # (Redis leaves its buffer blocks' headers counted)
        assert during["mem_not_counted_for_evict"] >= slaves - 64 * 1024
        assert during["used_memory"] - before["used_memory"] >= slaves - 256 * 1024
        assert abs(counted(during) - counted(before)) < 256 * 1024, (before, during)
        assert m.dbsize() == 20                        # nothing evicted

        m.client_kill_filter(_type="replica")
        after = m.info("memory")
        assert after["mem_clients_slaves"] == 0
        assert abs(counted(after) - counted(during)) < 256 * 1024, (during, after)
        assert m.dbsize() == 20
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
        m.close()


def _write_incr_aof(data_dir, commands):
    """Append ``commands`` to the incremental AOF the manifest names."""
    adir = os.path.join(data_dir, "appendonlydir")
    manifest = next(f for f in os.listdir(adir) if f.endswith(".manifest"))
    with open(os.path.join(adir, manifest)) as f:
        incr = next(line.split()[1] for line in f if line.split()[-1] == "i")
    with open(os.path.join(adir, incr), "ab") as f:
        for argv in commands:
            f.write(b"*%d\r\n" % len(argv) + b"".join(
                b"$%d\r\n%s\r\n" % (len(a), a) for a in argv))


def _reply_line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        assert chunk, "the connection closed"
        data += chunk
    return data


def test_slow_script_in_aof_others_get_loading(kind, servers):
    """An EVAL replayed from the AOF (DEBUG LOADAOF) that runs past
    busy-reply-threshold: the other clients are answered -LOADING (loading
    comes before a busy script in Redis's checks), not -BUSY; the script's
    write is there afterwards (Redis's aof.tcl 'EVAL timeout with slow
    verbatim Lua script from AOF')."""
    s = _start(kind, servers, "--appendonly", "yes", "--aof-use-rdb-preamble", "no",
               "--busy-reply-threshold", "1", "--enable-debug-command", "yes")
    other = socket.create_connection((HOST, s.port), timeout=60)
    loader = socket.create_connection((HOST, s.port), timeout=60)
    try:
        # (about a second in both servers; the busy hook runs every 100,000
        # Lua instructions there and here)
        script = (b"redis.call('set',KEYS[1],'y'); for i=1,200000000 do local x = i end "
                  b"return 'ok'")
        _write_incr_aof(s.dir, [[b"SELECT", b"9"], [b"EVAL", script, b"1", b"x"]])
        loader.sendall(b"*2\r\n$5\r\nDEBUG\r\n$7\r\nLOADAOF\r\n")
        loader.setblocking(False)
        error = done = None
        for _ in range(200000):
            other.sendall(b"PING\r\n")
            line = _reply_line(other)
            if line.startswith(b"-"):
                error = line
                break
            try:
                done = loader.recv(100)
            except BlockingIOError:
                continue
            break
        loader.setblocking(True)
        assert error is not None and error.startswith(b"-LOADING "), (error, done)
        assert (done or b"") + (_reply_line(loader) if not done else b"") == b"+OK\r\n"
        nine = redis.Redis(host=HOST, port=s.port, db=9)
        try:
            assert nine.get("x") == b"y"
        finally:
            nine.close()
    finally:
        loader.close()
        other.close()
