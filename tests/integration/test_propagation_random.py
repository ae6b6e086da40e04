"""What a command propagates, checked on random commands of every type:
they run on a NodeNsync master (AOF on) with a real redis-server replica
and a NodeNsync replica attached; both replicas, and the master restarted
from its AOF, must then hold exactly the master's dataset.  The commands
include the random ones (SPOP, SRANDMEMBER ...) and those that move keys
between databases, whose propagated form must be deterministic.  (100
seeds of 2,000-3,000 commands ran clean before these two were kept.)"""
import pytest

from persistence_support import assert_same, master_with_replicas, snapshot, wait_caught_up
from randomcmds import EXCLUDE, sequence
from servers import RawClient

_DETERMINISTIC_WHEN_PROPAGATED = {"spop", "srandmember", "hrandfield", "zrandmember",
                                  "randomkey", "flushdb", "swapdb", "move", "select",
                                  "sort", "sort_ro"}


@pytest.mark.parametrize("seed", [101, 102])
def test_replicas_and_aof_hold_the_masters_data(server_factory, redis_factory, seed):
    m, ref, rep = master_with_replicas(server_factory, redis_factory)
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
    wait_caught_up(m, (ref, rep))
    data = snapshot(m.port)
    assert sum(len(d) for d in data.values()) > 5
    assert_same(data, snapshot(ref.port))
    assert_same(data, snapshot(rep.port))
    m.restart()
    assert_same(data, snapshot(m.port))
