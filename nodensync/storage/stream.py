"""Stream value (Redis's stream type): entries by ID, consumer groups.

An entry ID ``ms-seq`` (two unsigned 64-bit numbers) is held as one int,
``ms << 64 | seq``: ints compare in ID order, hash fast and cost one object.
``make_id``/``id_ms``/``id_seq``/``format_id`` convert.

The model, shared by the commands (commands/streams.py,
commands/stream_groups.py) and persistence (storage/rdb.py, storage/aof.py):

``Stream``
    ``entries``        SortedDict {id: tuple of bytes (field, value, field, value, ...)}
    ``last_id``        the greatest ID ever added (or set by XSETID), 0 when none
    ``first_id``       Redis's s->first_id as it records it (recorded-first-entry-id)
    ``max_deleted_id`` the greatest ID deleted (XDEL/XTRIM), 0 when none
    ``entries_added``  entries ever added (XADD count, or set by XSETID ENTRIESADDED)
    ``groups``         dict {group name bytes: ConsumerGroup} (listed in name order, as Redis's rax)

``ConsumerGroup``
    ``name``, ``last_id`` (last delivered ID), ``entries_read`` (-1 when not known,
    Redis's SCG_INVALID_ENTRIES_READ), ``pel`` SortedDict {id: PendingEntry},
    ``consumers`` dict {consumer name bytes: Consumer} (listed in name order)

``Consumer``
    ``name``, ``seen_time`` (ms, Unix time of its last interaction),
    ``pel`` SortedDict {id: PendingEntry} -- the same PendingEntry objects as
    its group's PEL

``PendingEntry``
    ``delivery_time`` (ms, Unix time of the last delivery), ``delivery_count``,
    ``consumer`` (the owning consumer's *name*, bytes: no reference cycle)

Nothing here refers back to its owner, so a stream holds no reference cycle
and reference counting alone frees it.
"""
from sortedcontainers import SortedDict

from ..errors import CommandError

U64 = (1 << 64) - 1
MAX_ID = (1 << 128) - 1          # UINT64_MAX-UINT64_MAX
INVALID_ID = "ERR Invalid stream ID specified as stream command argument"


def make_id(ms, seq):
    return ms << 64 | seq


def id_ms(i):
    return i >> 64


def id_seq(i):
    return i & U64


def format_id(i):
    return b"%d-%d" % (i >> 64, i & U64)


def _u64(part):
    # Redis's string2ull (approximately: it falls back on strtoull, which
    # also takes leading spaces and a sign -- refine with differential tests).
    if not part or not part.isdigit():
        return None
    v = int(part)
    return v if v <= U64 else None


def parse_id(arg, missing_seq=0, strict=False):
    """Redis's streamGenericParseIDOrReply: ``-`` and ``+`` (unless
    ``strict``) are the smallest and greatest IDs, ``ms`` alone takes
    ``missing_seq``, ``ms-seq`` is exact.  Raises Redis's error otherwise."""
    if len(arg) > 127:
        raise CommandError(INVALID_ID)
    if not strict and len(arg) == 1:
        if arg == b"-":
            return 0
        if arg == b"+":
            return MAX_ID
    ms, dash, seq = arg.partition(b"-")
    ms_v = _u64(ms)
    if ms_v is None:
        raise CommandError(INVALID_ID)
    if not dash:
        return ms_v << 64 | missing_seq
    seq_v = _u64(seq)
    if seq_v is None:
        raise CommandError(INVALID_ID)
    return ms_v << 64 | seq_v


class PendingEntry:
    __slots__ = ("delivery_time", "delivery_count", "consumer")

    def __init__(self, delivery_time, delivery_count, consumer):
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count
        self.consumer = consumer


class Consumer:
    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name, seen_time):
        self.name = name
        self.seen_time = seen_time
        self.pel = SortedDict()


class ConsumerGroup:
    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers")

    def __init__(self, name, last_id, entries_read=-1):
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = SortedDict()
        self.consumers = {}


class Stream:
    __slots__ = ("entries", "last_id", "first_id", "max_deleted_id", "entries_added", "groups")

    def __init__(self):
        self.entries = SortedDict()
        self.last_id = 0
        self.first_id = 0
        self.max_deleted_id = 0
        self.entries_added = 0
        self.groups = {}

    def __len__(self):
        return len(self.entries)
