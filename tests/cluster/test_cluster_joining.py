"""Forming clusters other ways than scripts/nodensync-cluster create:
redis-cli --cluster create (MEETs sent to every new node, slots assigned
before joining), the --clusterPeers seed list, CLUSTER RESET and joining
again."""
import os
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_support import Node, cluster_info, parse_nodes, wait_for, HOST  # noqa: E402
from servers import free_port  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def nodes():
    made = []

    def make(n, *extra, ports=None):
        for i in range(n):
            port, bus = ports[i] if ports else (None, None)
            made.append(Node(2000, extra, bus_port=bus, port=port))
        return made[-n:]
    yield make
    for n in made:
        n.cleanup()


def _port_taken(port):
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
        return False


def test_redis_cli_cluster_create(nodes):
    ns = nodes(3)
    # Each node holds its bus port from the start, before it joins (as Redis
    # binds its bus at start): no other server can be given that port.
    assert all(_port_taken(n.bus_port) for n in ns)
    r = subprocess.run(["redis-cli", "--cluster", "create"] +
                       ["%s:%d" % (HOST, n.port) for n in ns] +
                       ["--cluster-replicas", "0", "--cluster-yes"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[OK] All 16384 slots covered." in r.stdout
    wait_for(lambda: all(cluster_info(n.port)["cluster_state"] == "ok" for n in ns), 30,
             what="cluster ok")
    view = parse_nodes(ns[0].c().execute_command("CLUSTER", "NODES"))
    assert len(view) == 3
    epochs = [n["epoch"] for n in view]
    assert len(set(epochs)) == 3 and 0 not in epochs      # distinct config epochs
    r = subprocess.run(["redis-cli", "--cluster", "check", "%s:%d" % (HOST, ns[1].port)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    for i in range(10):
        out = subprocess.run(["redis-cli", "-c", "-p", str(ns[2].port), "SET", "k%d" % i, "v"],
                             capture_output=True, text=True, timeout=10).stdout
        assert out.strip() == "OK"


def test_seed_list_join_and_reset(nodes):
    ports = [(free_port(), free_port()) for _ in range(3)]
    seeds = ",".join("%s:%d" % (HOST, p) for p, _ in ports)
    ns = nodes(3, "--clusterPeers", seeds, ports=ports)
    wait_for(lambda: all(cluster_info(n.port)["cluster_known_nodes"] == "3" for n in ns), 60,
             what="the seeds found each other")
    assert sorted(cluster_info(n.port)["cluster_raft_state"] for n in ns).count("leader") == 1
    c = ns[0]
    ids = [n.c().execute_command("CLUSTER", "MYID").decode() for n in ns]
    assert c.c().execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    wait_for(lambda: all(cluster_info(n.port)["cluster_state"] == "ok" for n in ns), 30,
             what="cluster ok")
    # the third node leaves (RESET) and joins again (MEET)
    assert ns[2].c().execute_command("CLUSTER", "RESET", "SOFT")
    wait_for(lambda: cluster_info(ns[0].port)["cluster_known_nodes"] == "2", 20,
             what="node forgotten")
    assert cluster_info(ns[2].port)["cluster_known_nodes"] == "1"
    try:
        wait_for(lambda: cluster_info(ns[0].port)["cluster_raft_voters"] == "2", 20,
                 what="voter removed from the Raft membership")
    except AssertionError:
        for n in ns:
            sys.stderr.write("---- %d\n%s\n" % (n.port, n.log()[-4000:]))
        raise
    assert ns[0].c().execute_command("CLUSTER", "MEET", HOST, ns[2].port)
    wait_for(lambda: cluster_info(ns[2].port)["cluster_known_nodes"] == "3", 30,
             what="node joined again")
    wait_for(lambda: cluster_info(ns[0].port)["cluster_raft_voters"] == "3", 20,
             what="voter added back")
    assert ids[2] in {n["id"] for n in parse_nodes(ns[0].c().execute_command("CLUSTER", "NODES"))}
