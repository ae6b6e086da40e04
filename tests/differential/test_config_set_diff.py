"""CONFIG SET's value parsing compared with a real redis-server 7.0.15:
the reply (OK or the exact error) and what CONFIG GET shows afterwards.
Redis parses numbers with string2ll (no '+', no leading zero, no space),
memory values with memtoull (no sign, units, saturating digits), booleans
as yes/no only, and clamps a few settings.  (Found by a random CONFIG SET
differential run: NodeNsync used to take '1', '+1', '-0' and the like.)"""
import pytest

from servers import NodeServer, RedisServer, RawClient

CASES = {
    "rdbcompression": ["1", "0", "YES", "no", " yes", "true", ""],
    "replica-read-only": ["on", "No"],
    "slowlog-max-len": ["+1", "-0", "007", " 1", "1.5", "99999999999999999999",
                        "9223372036854775807", "-1", "0", "12"],
    "lfu-log-factor": ["-9223372036854775808", "2147483648", "2147483647", "10"],
    "maxmemory": ["-1", "-0", "1.5", "1kb", "2KB", "3k", "1gb", "kb", "", "+5",
                  "99999999999999999999", "18446744073709551615", "0"],
    "proto-max-bulk-len": ["-5", "1mb", "99999999999999999999", "512mb"],
    "client-query-buffer-limit": ["1048575", "1048576", "1gb"],
    "auto-aof-rewrite-min-size": ["-1", "64mb"],
    "hz": ["0", "-5", "99999", "501", "+1", "10"],
    "repl-backlog-size": ["512", "", "1mb"],
    "repl-backlog-ttl": ["5000000000", "-5", "3600"],
    "maxmemory-samples": ["100", "0", "5"],
    "cluster-node-timeout": ["1", "15000"],
    "appendfsync": ["sometimes", "EVERYSEC", " no", "everysec"],
    "maxmemory-policy": ["1mb", "ALLKEYS-LRU", "noeviction"],
    "rdbchecksum": ["no", "1"],
    "dir": ["/tmp"],
    "cluster-announce-hostname": ["a b", "host_1", "x" * 256, "node-1.example", ""],
    "hash-max-listpack-value": ["1kb", "-1", "64"],
    "zset-max-listpack-entries": ["1k", "+1", "128"],
    "key-load-delay": ["-5", "0"],
    "sanitize-dump-payload": ["maybe", "YES", "clients", "1", "no"],
}


@pytest.fixture(scope="module")
def pair():
    node, ref = NodeServer(), RedisServer()
    yield RawClient(node.port), RawClient(ref.port)
    node.cleanup()
    ref.cleanup()


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_set_parses_as_redis(pair, name):
    node, ref = pair
    for value in CASES[name]:
        reads = [] if name == "dir" else [["CONFIG", "GET", name]]      # (each its own dir)
        for args in [["CONFIG", "SET", name, value]] + reads:
            a, b = node.call_raw(*args), ref.call_raw(*args)
            assert a == b, "%r:\n  nodensync: %r\n  redis:     %r" % (args, a, b)
