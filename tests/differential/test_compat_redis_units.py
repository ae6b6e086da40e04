"""Cases found by running Redis's own test suite in its normal mode, where
the framework starts the server itself (scripts/compat/redis_tcl_spawned.sh,
units the external mode skips: info, auth, maxmemory, networking ...), each
compared with redis-server."""
import re


def _stats(client, section):
    """INFO ``section`` as {field: value}, times (usec) left out."""
    text = client.call("INFO", section)
    text = text.decode() if isinstance(text, bytes) else text
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = re.sub(r"usec=\d+,usec_per_call=[0-9.]+,", "", v)
    return out


def _same_stats(diff, section, keep=lambda k: True):
    a = {k: v for k, v in _stats(diff.node, section).items() if keep(k)}
    b = {k: v for k, v in _stats(diff.ref, section).items() if keep(k)}
    assert a == b


def test_rejected_calls_counted_on_the_command(diff):
    # info.tcl "errorstats: rejected call due to wrong arity", "... within
    # MULTI/EXEC", "failed call within LUA": a wrong arity is a rejected call
    # of the command looked up (a container's subcommand, the container
    # alone), not of an unknown one.
    diff.check("CONFIG", "RESETSTAT")
    diff.check("SET", "k")
    diff.check("SET", "k1", "v1")
    diff.check("MULTI")
    diff.check("SET")
    diff.check("EXEC")
    diff.check("EVAL", "a")
    diff.check("EVAL", "return redis.pcall('set','k')", "0")
    diff.check("XGROUP")
    diff.check("XGROUP", "foo")
    diff.check("XGROUP", "CREATECONSUMER", "s")
    diff.check("NOSUCHCOMMAND", "x")
    _same_stats(diff, "commandstats", keep=lambda k: k not in ("cmdstat_info", "cmdstat_hello"))
    _same_stats(diff, "errorstats")
    _same_stats(diff, "stats", keep=lambda k: k in ("total_error_replies", "rejected_calls"))
