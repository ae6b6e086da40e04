"""What a command propagates, checked on random commands of every type:
they run on a NodeNsync master (AOF on) with a real redis-server replica
and a NodeNsync replica attached; both replicas, and the master restarted
from its AOF, must then hold exactly the master's dataset.  The commands
include the random ones (SPOP, SRANDMEMBER ...) and those that move keys
between databases, whose propagated form must be deterministic.  (100
seeds of 2,000-3,000 commands ran clean before these two were kept.)"""
import pytest

from persistence_support import assert_same, client, snapshot, wait_for
from randomcmds import EXCLUDE, sequence
from servers import RawClient

_DETERMINISTIC_WHEN_PROPAGATED = {"spop", "srandmember", "hrandfield", "zrandmember",
                                  "randomkey", "flushdb", "swapdb", "move", "select",
                                  "sort", "sort_ro"}


def _offset_reached(port, offset):
    return client(port).info("replication").get("slave_repl_offset", -1) >= offset


@pytest.mark.parametrize("seed", [101, 102])
def test_replicas_and_aof_hold_the_masters_data(server_factory, redis_factory, seed):
    m = server_factory("--appendonly", "yes", "--save", "")
    ref = redis_factory("--replicaof", "127.0.0.1", str(m.port))
    rep = server_factory("--replicaof", "127.0.0.1:%d" % m.port, "--save", "")
    for r in (ref, rep):
        wait_for(lambda: client(r.port).info("replication")["master_link_status"] == "up",
                 what="replica link")
    c = RawClient(m.port)
    try:
        for args, _ in sequence(seed, 2500, extended=True,
                                exclude=EXCLUDE - _DETERMINISTIC_WHEN_PROPAGATED):
            c.call_raw(*args)
        c.call_raw("DISCARD")            # (a MULTI block the sequence left open)
        # The random pops again, on sets big enough for the choice to matter.
        c.call_raw("SELECT", "0")
        c.call_raw("SADD", "pop:strs", *["m%d" % i for i in range(200)])
        c.call_raw("SADD", "pop:ints", *range(100))
        for key in ("pop:strs", "pop:ints"):
            c.call_raw("SPOP", key)
            c.call_raw("SPOP", key, "7")
            c.call_raw("SPOP", key)
        c.call_raw("SPOP", "pop:ints", "1000")
    finally:
        c.close()
    offset = client(m.port).info("replication")["master_repl_offset"]
    for r in (ref, rep):
        wait_for(lambda: _offset_reached(r.port, offset), what="replica offset")
    data = snapshot(m.port)
    assert sum(len(d) for d in data.values()) > 5
    assert_same(data, snapshot(ref.port))
    assert_same(data, snapshot(rep.port))
    m.restart()
    assert_same(data, snapshot(m.port))
