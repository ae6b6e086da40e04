"""Differential testing: the same command to NodeNsync and to a real
redis-server, replies compared.

``Differ.check(*args)`` compares the exact reply bytes.  For commands whose
reply order is unspecified (SMEMBERS, KEYS, HGETALL ...) use
``check(..., unordered=True)``: both replies are parsed and compared as
sorted collections.
"""
from servers import RawClient


def _normalize(value):
    """Parsed reply -> comparable, order-free form."""
    if isinstance(value, list):
        items = [_normalize(v) for v in value]
        return ("list", tuple(sorted(items, key=repr)))
    if isinstance(value, dict):
        return ("map", tuple(sorted(((_normalize(k), _normalize(v)) for k, v in value.items()),
                                    key=repr)))
    if isinstance(value, Exception):
        return ("err", str(value))
    return value


class Mismatch(AssertionError):
    pass


class Differ:
    def __init__(self, node_port, redis_port, protocol=2):
        self.node = RawClient(node_port)
        self.ref = RawClient(redis_port)
        self.protocol = protocol
        if protocol == 3:
            self.check("HELLO", "3", compare=False)

    def check(self, *args, unordered=False, compare=True):
        """Send args to both servers; assert identical replies; return the
        NodeNsync reply bytes."""
        if unordered:
            a = self.node.call(*args)
            b = self.ref.call(*args)
            if compare and _normalize(a) != _normalize(b):
                raise Mismatch("%r:\n  nodensync: %r\n  redis:     %r" % (args, a, b))
            return a
        a = self.node.call_raw(*args)
        b = self.ref.call_raw(*args)
        if compare and a != b:
            raise Mismatch("%r:\n  nodensync: %r\n  redis:     %r" % (args, a, b))
        return a

    def run(self, commands, **kw):
        for c in commands:
            self.check(*c, **kw)

    def close(self):
        self.node.close()
        self.ref.close()
