"""Failover on a 3-master / 3-replica NodeNsync cluster created by
scripts/nodensync-cluster (cluster-node-timeout 2 s): kill -9 a master
under a write load, kill the Raft leader, kill a minority, isolate a master
with SIGSTOP, stop a majority of the voters (nothing may be promoted),
manual CLUSTER FAILOVER without lost writes, adding and removing nodes.
One cluster for the whole module; every test leaves it healthy."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_support import (LocalCluster, WriteLoad, cluster_info, keys_for_slots,
                             parse_nodes, run_tool, slot_ranges_of, wait_for, Node, HOST)

pytestmark = pytest.mark.timeout(300)
NODE_TIMEOUT = 2000
FIGURES = {}


@pytest.fixture(scope="module")
def cl():
    c = LocalCluster(masters=3, replicas=1, node_timeout=NODE_TIMEOUT)
    c.wait_replicas_up()
    yield c
    c.close()
    if FIGURES:
        sys.stderr.write("\ncluster failover figures: %r\n" % FIGURES)


def heal(cl):
    """Restart dead nodes, resume stopped ones, wait until all is well."""
    for n in cl.nodes:
        if n.stopped:
            n.sigcont()
        if not n.alive():
            n.start()
    cl.wait_ok(timeout=60)
    cl.wait_replicas_up(timeout=60)


def me_in(node):
    return next(x for x in parse_nodes(node.c().execute_command("CLUSTER", "NODES"))
                if "myself" in x["flags"])


def test_cluster_created_with_replicas(cl):
    view = cl.view()
    assert sum("slave" in n["flags"] for n in view) == 3
    assert sum("master" in n["flags"] for n in view) == 3
    masters = cl.masters()
    assert len(masters) == 3
    for m in masters:
        reps = cl.replicas_of(m)
        assert len(reps) == 1
        lines = m.c().execute_command("CLUSTER", "REPLICAS", m.myid())
        assert [l.split()[0].decode() for l in lines] == [reps[0].myid()]
        i = reps[0].c().info("replication")
        assert i["role"] == "slave" and i["master_port"] == m.port
    slots = cl.entry.c().execute_command("CLUSTER", "SLOTS")
    assert all(len(entry) == 4 for entry in slots)         # start, end, master, replica
    # READONLY reads from a replica, writes are redirected to its master
    m = masters[0]
    r = cl.replicas_of(m)[0]
    key = keys_for_slots(slot_ranges_of(cl, m), 1, "ro")[0]
    m.c().set(key, "v")
    wait_for(lambda: r.c().execute_command("READONLY") and
             _readonly_get(r, key) == b"v", 10, what="replica has the key")
    moved = _raw(r.port, "SET", key, "x")
    assert moved.startswith(b"-MOVED") and (b":%d" % m.port) in moved
    assert _raw(r.port, "GET", key).startswith(b"-MOVED")        # no READONLY: redirected
    rc, out = run_tool("check", "%s:%d" % (HOST, cl.entry.port))
    assert rc == 0, out
    # the sixth node follows the Raft log without voting (cluster-raft-voters 5)
    states = sorted(cluster_info(n.port)["cluster_raft_state"] for n in cl.nodes)
    assert states.count("read-only") == 1 and states.count("leader") == 1


def _raw(port, *args):
    from servers import RawClient
    c = RawClient(port)
    try:
        return c.call_raw(*args)
    finally:
        c.close()


def _readonly_get(node, key):
    from servers import RawClient
    c = RawClient(node.port)
    try:
        c.call("READONLY")
        return c.call("GET", key)
    finally:
        c.close()


def _failover_under_load(cl, victim, how):
    """Write to the victim's slots, take it out (kill/stop), measure."""
    ranges = slot_ranges_of(cl, victim)
    replica = cl.replicas_of(victim)[0]
    keys = keys_for_slots(ranges, 300, "fo")
    load = WriteLoad(cl, keys, threads=2).start()
    try:
        wait_for(lambda: len(load.ok_times) > 200, 20, what="load running")
        t0 = time.monotonic()
        if how == "kill":
            victim.kill9()
        else:
            victim.sigstop()
        took = load.resumed_after(t0, timeout=30)
        assert took is not None, "writes did not resume: %r" % load.errors[-3:]
        time.sleep(0.5)
    finally:
        load.stop()
    # the replica took over, everywhere
    wait_for(lambda: "master" in me_in(replica)["flags"], 10, what="replica promoted")
    rc = cl.rc()
    lost = load.lost(rc)
    rc.close()
    return took, lost, replica, load


def test_kill_master_under_load(cl):
    victim = cl.masters()[1]
    if victim is cl.raft_leader():
        victim = cl.masters()[2]
    took, lost, replica, load = _failover_under_load(cl, victim, "kill")
    FIGURES["kill_master_resume_s"] = round(took, 2)
    FIGURES["kill_master_lost_acked_writes"] = len(lost)
    FIGURES["kill_master_acked_writes"] = len(load.ok_times)
    assert took < 8.0, took        # target < 5 s with a 2 s node timeout
    # asynchronous replication: only the last instants before the kill can be lost
    assert len(lost) <= 50, lost[:5]
    # the old master comes back as a replica of the promoted node
    victim.start()
    wait_for(lambda: me_in(victim)["master"] == replica.myid(), 30,
             what="old master rejoined as replica")
    heal(cl)
    assert victim.c().info("replication")["master_port"] == replica.port


def test_kill_raft_leader(cl):
    leader = cl.raft_leader()
    assert leader is not None
    was_master = "master" in me_in(leader)["flags"]
    t0 = time.monotonic()
    leader.kill9()
    others = [n for n in cl.nodes if n is not leader]

    def new_leader():
        info = cluster_info(others[0].port)
        leader_id = info.get("cluster_raft_leader", "")
        return leader_id and leader_id != leader.myid()
    wait_for(new_leader, 15, what="a new Raft leader")
    FIGURES["leader_reelection_s"] = round(time.monotonic() - t0, 2)
    if was_master:
        wait_for(lambda: all(n["id"] != leader.myid() or "slave" in n["flags"]
                             for n in cl.view(others[0])), 15, what="failover of the leader")
    cl.wait_ok(nodes=others, timeout=30)
    rc = cl.rc()
    rc.set("after-leader-kill", "1")
    assert rc.get("after-leader-kill") == b"1"
    rc.close()
    leader.start()
    heal(cl)


def test_kill_minority(cl):
    masters = cl.masters()
    m = masters[0]
    other_replica = cl.replicas_of(masters[1])[0]
    m_replica = cl.replicas_of(m)[0]
    m.kill9()
    other_replica.kill9()
    alive = [n for n in cl.nodes if n.alive()]
    wait_for(lambda: "master" in me_in(m_replica)["flags"], 20, what="failover of the master")
    cl.wait_ok(nodes=alive, timeout=30)
    rc = cl.rc()
    keys = keys_for_slots(slot_ranges_of(cl, m_replica), 20, "minority")
    for k in keys:
        rc.set(k, "x")
    assert all(rc.get(k) == b"x" for k in keys)
    rc.close()
    heal(cl)


def test_sigstop_master_and_resume(cl):
    victim = next(m for m in cl.masters() if m is not cl.raft_leader())
    took, lost, replica, load = _failover_under_load(cl, victim, "stop")
    FIGURES["sigstop_master_resume_s"] = round(took, 2)
    assert took < 8.0, took
    assert len(lost) <= 50
    key = keys_for_slots(slot_ranges_of(cl, replica), 1, "stopped")[0]
    victim.sigcont()
    # From the moment it runs again the old master never accepts a write to
    # the slots it lost: it answers CLUSTERDOWN (catching up) or MOVED.
    deadline = time.monotonic() + 10
    replies = set()
    while time.monotonic() < deadline:
        r = _raw(victim.port, "SET", key, "from-old-master")
        replies.add(r.split(b" ")[0])
        assert not r.startswith(b"+OK"), r
        if r.startswith(b"-MOVED") and "slave" in me_in(victim)["flags"]:
            break
        time.sleep(0.02)
    assert b"-MOVED" in replies, replies
    wait_for(lambda: me_in(victim)["master"] == replica.myid(), 20, what="old master demoted")
    heal(cl)
    rc = cl.rc()
    assert rc.get(key) != b"from-old-master"
    rc.close()


def test_majority_of_voters_stopped_promotes_nothing(cl):
    """Only a minority of the control plane runs: a master that looks dead
    to it is not failed over (no commit without a majority), and the
    minority refuses keyed commands."""
    voters = [n for n in cl.nodes if cluster_info(n.port)["cluster_raft_state"] != "read-only"]
    assert len(voters) == 5
    master = next(m for m in cl.masters() if m in voters)
    replica = cl.replicas_of(master)[0]
    stopped = [master] + [v for v in voters if v is not master and v is not replica][:2]
    epoch_before = me_in(master)["epoch"]
    for n in stopped:
        n.sigstop()
    try:
        live = [n for n in cl.nodes if not n.stopped]
        wait_for(lambda: all(cluster_info(n.port)["cluster_state"] == "fail" for n in live), 15,
                 what="the minority reports cluster_state:fail")
        time.sleep(NODE_TIMEOUT / 1000.0 * 2)
        assert "slave" in me_in(replica)["flags"]
        for n in live:
            assert any(x["id"] == master.myid() and "master" in x["flags"] for x in cl.view(n))
        key = keys_for_slots([(0, 16383)], 1, "minority")[0]
        r = _raw(live[0].port, "GET", key)
        assert r in (b"-CLUSTERDOWN The cluster is down\r\n",) or r.startswith(b"-MOVED"), r
    finally:
        for n in stopped:
            n.sigcont()
    heal(cl)
    logs = "".join(line + "\n" for n in cl.nodes for line in n.log().splitlines()
                   if "Failover" in line or "stalled" in line or "leader" in line)
    assert me_in(master)["epoch"] == epoch_before and "master" in me_in(master)["flags"], \
        (cl.view(), logs)


def test_manual_failover_loses_no_write(cl):
    master = cl.masters()[0]
    replica = cl.replicas_of(master)[0]
    keys = keys_for_slots(slot_ranges_of(cl, master), 300, "manual")
    load = WriteLoad(cl, keys, threads=2).start()
    try:
        wait_for(lambda: len(load.ok_times) > 200, 20, what="load running")
        assert replica.c().execute_command("CLUSTER", "FAILOVER") == b"OK"
        assert "master" in me_in(replica)["flags"]
        wait_for(lambda: me_in(master)["master"] == replica.myid(), 10, what="old master demoted")
        n_before = len(load.ok_times)
        wait_for(lambda: len(load.ok_times) > n_before + 100, 20, what="writes continue")
    finally:
        load.stop()
    rc = cl.rc()
    assert load.lost(rc) == []
    rc.close()
    heal(cl)
    with pytest.raises(Exception) as e:
        replica.c().execute_command("CLUSTER", "FAILOVER")
    assert "You should send CLUSTER FAILOVER to a replica" in str(e.value)
    # FORCE works the same way when the master is up
    assert master.c().execute_command("CLUSTER", "FAILOVER", "FORCE") == b"OK"
    assert "master" in me_in(master)["flags"]
    heal(cl)


def test_add_and_remove_nodes(cl):
    extra = [Node(NODE_TIMEOUT), Node(NODE_TIMEOUT)]
    cl.nodes.extend(extra)
    new_master, new_replica = extra
    entry = "%s:%d" % (HOST, cl.entry.port)
    rc_code, out = run_tool("add-node", "%s:%d" % (HOST, new_master.port), entry)
    assert rc_code == 0, out
    rc_code, out = run_tool("add-node", "%s:%d" % (HOST, new_replica.port), entry,
                            "--replica-of", new_master.myid())
    assert rc_code == 0, out
    assert me_in(new_replica)["master"] == new_master.myid()
    # the new members follow the log without voting
    assert cluster_info(new_master.port)["cluster_raft_state"] == "read-only"
    # Removing a voter: it leaves the Raft membership and a read-only member
    # is promoted, so the control plane keeps cluster-raft-voters voters.
    leader = cl.raft_leader()
    gone = next(n for n in cl.nodes if n is not leader and n not in extra
                and cluster_info(n.port)["cluster_raft_state"] == "follower"
                and "slave" in me_in(n)["flags"])
    readonly_before = {n.port for n in cl.nodes
                       if cluster_info(n.port)["cluster_raft_state"] == "read-only"}
    rc_code, out = run_tool("del-node", entry, gone.myid())
    assert rc_code == 0, out
    cl.nodes.remove(gone)
    gone.cleanup()
    entry = "%s:%d" % (HOST, cl.entry.port)

    def promoted():
        states = {n.port: cluster_info(n.port)["cluster_raft_state"] for n in cl.nodes}
        voters = [p for p, st in states.items() if st != "read-only"]
        return len(voters) == 5 and any(p in readonly_before for p in voters) and \
            cluster_info(cl.entry.port)["cluster_raft_voters"] == "5"
    wait_for(promoted, 30, what="a read-only member promoted to voter")
    cl.wait_ok()
    rc = cl.rc()
    keys = ["add:%d" % i for i in range(500)]
    for k in keys:
        rc.set(k, k)
    rc_code, out = run_tool("rebalance", entry, "--use-empty-masters", "--quiet")
    assert rc_code == 0, out
    assert len(slot_ranges_of(cl, new_master)) >= 1
    rc.close()
    rc = cl.rc()
    assert all(rc.get(k) == k.encode() for k in keys)
    # move everything back and remove both nodes
    src_ids = new_master.myid()
    target = next(m for m in cl.masters() if m is not new_master)
    n_slots = sum(b - a + 1 for a, b in slot_ranges_of(cl, new_master))
    rc_code, out = run_tool("reshard", entry, "--from", src_ids, "--to", target.myid(),
                            "--slots", n_slots, "--quiet")
    assert rc_code == 0, out
    rc_code, out = run_tool("del-node", entry, new_replica.myid())
    assert rc_code == 0, out
    # the emptied master became a replica (replica migration): remove it too
    rc_code, out = run_tool("del-node", entry, new_master.myid())
    assert rc_code == 0, out
    ids = {n["id"] for n in cl.view()}
    assert new_master.myid() not in ids and new_replica.myid() not in ids
    assert all(rc.get(k) == k.encode() for k in keys)
    rc.close()
    for n in extra:
        cl.nodes.remove(n)
        n.cleanup()
    rc_code, out = run_tool("check", entry)
    assert rc_code == 0, out
