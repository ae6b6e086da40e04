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
import sys
from itertools import islice

from sortedcontainers import SortedDict

from ..errors import CommandError

_getsizeof = sys.getsizeof
_DICT_ENTRY = 24 + 8           # a dict slot: hash, key and value pointers (+ index)

U64 = (1 << 64) - 1
# Redis's LAZYFREE_THRESHOLD: a value whose free effort is above it is freed
# in the background (storage/keyspace.release).
FREE_EFFORT_THRESHOLD = 64
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


_LLONG_MAX = (1 << 63) - 1
_SPACES = b" \t\n\v\f\r"


def _string2ull(b):
    """Redis's string2ull: string2ll (canonical, refused when negative),
    else strtoull in base 10 -- which also takes leading blanks, a '+', a
    '-' (negating modulo 2**64) and leading zeros, but not an empty string,
    trailing garbage or a value past 2**64-1.  None when refused."""
    if b.isdigit():
        v = int(b)                    # (the common case)
        return v if v <= U64 else None
    body = b.lstrip(_SPACES)
    sign = body[:1]
    if sign in (b"+", b"-"):
        body = body[1:]
    if not body or not body.isdigit():
        return None
    v = int(body)
    if v > U64:
        return None                   # ERANGE
    if sign == b"-":
        if len(body) + 1 == len(b) and body[0] != 48 and v <= 1 << 63:
            return None               # string2ll reads a negative number: refused
        v = -v & U64
    return v


def _c_string(arg):
    # Redis copies the argument into a C buffer: it ends at the first NUL.
    i = arg.find(b"\0")
    return arg if i < 0 else arg[:i]


def parse_id(arg, missing_seq=0, strict=False):
    """Redis's streamGenericParseIDOrReply: ``-`` and ``+`` (unless
    ``strict``) are the smallest and greatest IDs, ``ms`` alone takes
    ``missing_seq``, ``ms-seq`` is exact.  Raises Redis's error otherwise."""
    return parse_id_seq(arg, missing_seq, strict, False)[0]


def parse_id_seq(arg, missing_seq=0, strict=True, allow_star=True):
    """parse_id for XADD: -> (id, seq_given).  ``ms-*`` (when
    ``allow_star``) gives (ms << 64, False): the sequence is to be generated."""
    if len(arg) > 127:
        raise CommandError(INVALID_ID)
    buf = _c_string(arg)
    if len(buf) == 1 and buf in b"-+":
        if strict:
            raise CommandError(INVALID_ID)
        return (0 if buf == b"-" else MAX_ID), True
    ms, dash, seq = buf.partition(b"-")
    ms_v = _string2ull(ms)
    if ms_v is None:
        raise CommandError(INVALID_ID)
    if not dash:
        return ms_v << 64 | missing_seq, True
    if allow_star and seq == b"*":
        return ms_v << 64, False
    seq_v = _string2ull(seq)
    if seq_v is None:
        raise CommandError(INVALID_ID)
    return ms_v << 64 | seq_v, True


def parse_interval_id(arg, missing_seq):
    """streamParseIntervalIDOrReply: -> (id, exclusive).  ``(id`` is an
    exclusive bound (then ``-``/``+`` are invalid)."""
    if len(arg) > 1 and arg[:1] == b"(":
        return parse_id_seq(arg[1:], missing_seq, True, False)[0], True
    return parse_id_seq(arg, missing_seq, False, False)[0], False


def next_id(last_id, now_ms):
    """streamNextID: the current time with sequence 0 if it is past the
    last ID's time, else the last ID plus one (None past the greatest ID)."""
    if now_ms > last_id >> 64:
        return now_ms << 64
    if last_id >= MAX_ID:
        return None
    return last_id + 1


# -- listpack sizes (Redis's listpack.c), for the node model -----------------------------
def _backlen_size(n):
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def _int_size(v):
    """Bytes of an integer element (encoding and back length)."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def _lp_int(b):
    """lpStringToInt64: the int64 a string element is stored as, or None."""
    n = len(b)
    if n == 0 or n >= 21:
        return None
    if b == b"0":
        return 0
    digits = b[1:] if b[:1] == b"-" else b
    if not digits or not digits.isdigit() or digits[0] == 48:
        return None
    v = int(b)
    return v if -(1 << 63) <= v <= _LLONG_MAX else None


def _str_size(b):
    """Bytes of a string element as lpAppend stores it (an integer when it
    reads as one)."""
    n = len(b)
    if n and n < 21 and (48 <= b[0] <= 57 or b[0] == 45):
        v = _lp_int(b)
        if v is not None:
            return _int_size(v)
    if n < 64:
        return n + 2              # 1-byte header, 1-byte back length (n + 1 <= 127)
    enc = 2 + n if n < 4096 else 5 + n
    return enc + _backlen_size(enc)


def _delta(a, b):
    # (uint64 a - uint64 b) as the int64 lpAppendInteger stores.
    d = (a - b) & U64
    return d - (1 << 64) if d >> 63 else d


LISTPACK_MAX_SIZE = 1 << 30      # t_stream.c STREAM_LISTPACK_MAX_SIZE


def rax_node_count(keys, depth=0):
    """The nodes of a radix tree (Redis's rax) holding ``keys``: sorted
    byte strings of one length, all sharing their first ``depth`` bytes.
    A run of bytes every key shares is one compressed node, a byte where
    they part is one branching node whose every branch starts a node, and
    every key ends in a leaf node (the empty tree is its root alone)."""
    if not keys:
        return 1
    first, last = keys[0], keys[-1]
    end = len(first)
    if depth == end:
        return 1                                   # the key's leaf
    if first[depth] == last[depth]:
        common = depth
        while common < end and first[common] == last[common]:
            common += 1                            # (sorted: first/last bound the rest)
        return 1 + rax_node_count(keys, common)
    total = 1
    start = 0
    n = len(keys)
    while start < n:
        byte = keys[start][depth]
        stop = start + 1
        while stop < n and keys[stop][depth] == byte:
            stop += 1
        total += rax_node_count(keys[start:stop], depth + 1)
        start = stop
    return total


class StreamNode:
    """What Redis's listpack macro node holding a run of entries would be:
    its master entry ID and fields, the last entry it got (deleted or not),
    its live and deleted entry counts and its size in bytes less the two
    counters (``body``).  Only approximate trimming and XADD's choice of a
    new node read it."""
    __slots__ = ("master_id", "last_id", "live", "deleted", "body", "fields", "tombstones")

    def __init__(self, master_id, fields, body):
        self.master_id = master_id
        self.last_id = master_id
        self.fields = fields
        self.body = body
        self.live = 0
        self.deleted = 0
        # {id: fields} of the entries deleted from this node that the model
        # knows (XDEL, exact trimming; a loader may add those it read):
        # Redis keeps them in the listpack, flagged, until the node goes.
        # ``deleted`` counts them all (a rebuilt model knows none).
        self.tombstones = None

    def lp_bytes(self):
        return self.body + _int_size(self.live) + _int_size(self.deleted)

    def bury(self, eid, fields):
        """An entry of this node was deleted (its data kept, flagged)."""
        self.live -= 1
        self.deleted += 1
        t = self.tombstones
        if t is None:
            t = self.tombstones = {}
        t[eid] = fields

    def copy(self):
        n = StreamNode(self.master_id, self.fields, self.body)
        n.last_id, n.live, n.deleted = self.last_id, self.live, self.deleted
        if self.tombstones:
            n.tombstones = dict(self.tombstones)
        return n


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
    __slots__ = ("entries", "last_id", "first_id", "max_deleted_id", "entries_added", "groups",
                 "nodes", "node_entries")

    def __init__(self):
        self.entries = SortedDict()
        self.last_id = 0
        self.first_id = 0
        self.max_deleted_id = 0
        self.entries_added = 0
        self.groups = {}
        # The node model (StreamNode, in ID order) and the entries it
        # accounts for: when that is not len(entries) (a stream built by
        # filling ``entries`` directly, as RDB loading does) it is rebuilt
        # as successive XADDs would have laid the entries out.
        self.nodes = []
        self.node_entries = 0

    def __len__(self):
        return len(self.entries)

    def memory_usage(self, samples=5):
        """Estimated bytes (MEMORY USAGE, maxmemory): the entries (the
        SortedDict's slot and sorted key, the ID int, the tuple of fields
        and values), estimated from the first ``samples`` entries as Redis
        samples its listpack nodes, and, as Redis counts them, the groups
        with their PEL entries and consumers."""
        entries = self.entries
        n = len(entries)
        size = _getsizeof(self) + _getsizeof(entries) + 16 * n
        if n and samples:
            k = 0
            sampled = 0
            for i, fv in islice(entries.items(), samples):
                sampled += (_DICT_ENTRY + _getsizeof(i) + _getsizeof(fv)
                            + sum(_getsizeof(x) for x in fv))
                k += 1
            size += int(sampled / k * n)
        for name, g in self.groups.items():
            size += _getsizeof(g) + _getsizeof(name) + _getsizeof(g.pel)
            size += (_DICT_ENTRY + 16 + 32 + 56) * len(g.pel)   # slot, key, ID, PendingEntry
            for cname, c in g.consumers.items():
                size += _getsizeof(c) + _getsizeof(cname) + _getsizeof(c.pel)
                size += (_DICT_ENTRY + 16) * len(c.pel)
        return size

    # -- reading ----------------------------------------------------------------------
    def range(self, start, end, rev=False, count=0):
        """[(id, fields)] of the entries with start <= id <= end, in ID
        order (descending when ``rev``), at most ``count`` (0: all)."""
        if start > end:
            return []
        it = self.entries.irange(start, end, reverse=rev)
        entries = self.entries
        if count:
            return [(i, entries[i]) for i in islice(it, count)]
        return [(i, entries[i]) for i in it]

    def first_entry(self):
        """(id, fields) of the first entry, or None."""
        if not self.entries:
            return None
        return self.entries.peekitem(0)

    def last_entry(self):
        if not self.entries:
            return None
        return self.entries.peekitem(-1)

    def first_id_with_tombstones(self, max_entries=100, max_bytes=4096):
        """streamGetEdgeID(first, with tombstones): the first entry of the
        first node, deleted or not -- its master entry, since a node's
        entries are only flagged deleted until the whole node goes.
        MAX_ID when the stream has no node."""
        nodes = self._nodes(max_entries, max_bytes)
        return nodes[0].master_id if nodes else MAX_ID

    def last_valid_id(self):
        """streamLastValidID: the greatest ID present (0 when empty)."""
        return self.entries.keys()[-1] if self.entries else 0

    # -- writing ----------------------------------------------------------------------
    def append(self, eid, fields, max_entries=100, max_bytes=4096):
        """streamAppendItem for an ID already checked to be past last_id:
        store the entry (a tuple field, value, ...) and keep the counters
        and the node model as Redis does."""
        nodes = self._nodes(max_entries, max_bytes)
        if self._place(nodes, eid, fields, max_entries, max_bytes):
            # The node's field names are these: the entry shares their
            # objects (48 bytes a name saved per entry; Redis stores them
            # once per node, in its master entry).
            names = nodes[-1].fields
            if len(names) == 1:
                fields = (names[0], fields[1])
            else:
                fields = tuple(x for pair in zip(names, fields[1::2]) for x in pair)
        self.entries[eid] = fields
        self.node_entries += 1
        self.entries_added += 1
        self.last_id = eid
        if len(self.entries) == 1:
            self.first_id = eid

    def delete(self, ids, max_entries=100, max_bytes=4096):
        """XDEL: remove the entries with these IDs; the number removed.
        Keeps first_id and max_deleted_id as Redis does."""
        entries = self.entries
        deleted = 0
        first_deleted = False
        for eid in ids:
            if eid not in entries:
                continue
            nodes = self._nodes(max_entries, max_bytes)
            fields = entries.pop(eid)
            self.node_entries -= 1
            k = self._node_index(nodes, eid)
            if k is not None:
                node = nodes[k]
                node.bury(eid, fields)
                if not node.live:
                    del nodes[k]
            if eid == self.first_id:
                first_deleted = True
            if eid > self.max_deleted_id:
                self.max_deleted_id = eid
            deleted += 1
        if deleted:
            if not entries:
                self.first_id = 0
            elif first_deleted:
                self.first_id = entries.keys()[0]
        return deleted

    def trim(self, maxlen=None, minid=None, approx=False, limit=0,
             max_entries=100, max_bytes=4096):
        """streamTrim: remove entries from the head so that at most
        ``maxlen`` remain (MAXLEN) or none is below ``minid`` (MINID).
        ``approx`` removes whole nodes only; ``limit`` (0: none) caps the
        entries removed, a node at a time.  Returns the number removed."""
        entries = self.entries
        nodes = self._nodes(max_entries, max_bytes)
        deleted = 0
        removed_nodes = 0
        for node in nodes:
            length = len(entries)
            if maxlen is not None and length <= maxlen:
                break
            if limit and deleted + node.live > limit:
                break
            if maxlen is not None:
                remove = length - node.live >= maxlen
            else:
                remove = node.last_id < minid
            if remove:
                if node.live:
                    for eid in list(entries.irange(node.master_id, node.last_id)):
                        del entries[eid]
                deleted += node.live
                removed_nodes += 1
                continue
            if approx:
                break
            # Exact: mark entries of this node deleted (they stay in it).
            if maxlen is not None:
                doomed = list(islice(entries.irange(node.master_id, node.last_id),
                                     length - maxlen))
            else:
                doomed = list(entries.irange(node.master_id, minid, inclusive=(True, False)))
            for eid in doomed:
                node.bury(eid, entries.pop(eid))
            deleted += len(doomed)
            break
        if removed_nodes:
            del nodes[:removed_nodes]
        self.node_entries -= deleted
        if not entries:
            self.first_id = 0
        elif deleted:
            self.first_id = entries.keys()[0]
        return deleted

    def copy(self):
        """A deep copy (COPY): entries, counters, node model, groups with
        their PELs and consumers (sharing PendingEntry objects as the
        original does)."""
        s = Stream()
        s.entries = self.entries.copy()
        s.last_id = self.last_id
        s.first_id = self.first_id
        s.max_deleted_id = self.max_deleted_id
        s.entries_added = self.entries_added
        s.nodes = [n.copy() for n in self.nodes]
        s.node_entries = self.node_entries
        for name, g in self.groups.items():
            ng = ConsumerGroup(g.name, g.last_id, g.entries_read)
            pes = {}
            for eid, pe in g.pel.items():
                pes[eid] = ng.pel[eid] = PendingEntry(pe.delivery_time, pe.delivery_count,
                                                      pe.consumer)
            for cname, c in g.consumers.items():
                nc = Consumer(c.name, c.seen_time)
                for eid, pe in c.pel.items():
                    nc.pel[eid] = pes.get(eid) or PendingEntry(
                        pe.delivery_time, pe.delivery_count, pe.consumer)
                ng.consumers[cname] = nc
            s.groups[name] = ng
        return s

    # -- the node model ---------------------------------------------------------------
    def _nodes(self, max_entries=100, max_bytes=4096):
        """The node list, rebuilt first if it does not account for the
        entries (see __init__)."""
        if self.node_entries != len(self.entries):
            self.nodes = []
            for eid, fields in self.entries.items():
                self._place(self.nodes, eid, fields, max_entries, max_bytes)
            self.node_entries = len(self.entries)
        return self.nodes

    def load_node(self, master_id, last_id, live, deleted, lp_bytes, fields, tombstones=None):
        """Add a node read from an RDB listpack (in ID order, after its
        entries were put in ``entries``): its master entry's ID and fields,
        its last entry's ID (deleted or not), live and deleted counts and
        size in bytes -- so approximate trimming sees the nodes Redis would
        have loaded.  When the loaded nodes do not account for every entry,
        the model is rebuilt instead (see __init__)."""
        node = StreamNode(master_id, tuple(fields),
                          lp_bytes - _int_size(live) - _int_size(deleted))
        node.last_id = last_id
        node.live = live
        node.deleted = deleted
        if tombstones:
            node.tombstones = dict(tombstones)     # {id: fields} of its deleted entries
        self.nodes.append(node)
        self.node_entries += live

    def node_list(self, max_entries=100, max_bytes=4096):
        """The StreamNode objects, in ID order (rebuilt first if needed)."""
        return self._nodes(max_entries, max_bytes)

    def node_items(self, node):
        """(id, fields, deleted) of every entry the model knows in
        ``node``, in ID order: its live entries and its tombstones -- what
        Redis's listpack for the node holds (all of it unless the model
        was rebuilt, which forgets deleted entries)."""
        live = ((i, self.entries[i], False)
                for i in self.entries.irange(node.master_id, node.last_id))
        if not node.tombstones:
            return list(live)
        dead = ((i, f, True) for i, f in node.tombstones.items())
        return sorted(list(live) + list(dead))

    def rax_figures(self, max_entries=100, max_bytes=4096):
        """XINFO STREAM's radix-tree-keys and radix-tree-nodes: Redis's rax
        of listpack nodes, keyed by their master IDs (16 bytes big-endian)."""
        masters = [n.master_id.to_bytes(16, "big") for n in self._nodes(max_entries, max_bytes)]
        return len(masters), rax_node_count(masters)

    def free_effort(self):
        """Redis's lazyfreeGetFreeEffort of a stream: the nodes of its radix
        tree of listpack nodes (counted only when few), plus, per group, one
        allocation and the first group's PEL size."""
        if self.node_entries != len(self.entries):
            # (a model to rebuild: not while freeing; XADD's default nodes)
            effort = (len(self.entries) + 99) // 100 + 1
        else:
            effort = len(self.nodes)
            if effort <= FREE_EFFORT_THRESHOLD:
                effort = rax_node_count([n.master_id.to_bytes(16, "big") for n in self.nodes])
        groups = self.groups
        if groups:
            effort += len(groups) * (1 + len(groups[min(groups)].pel))
        return effort

    def node_layout(self, max_entries=100, max_bytes=4096):
        """[(master id, last id, live, deleted)] of the nodes, in order."""
        return [(n.master_id, n.last_id, n.live, n.deleted)
                for n in self._nodes(max_entries, max_bytes)]

    @staticmethod
    def _node_index(nodes, eid):
        lo, hi = 0, len(nodes)
        while lo < hi:
            mid = (lo + hi) // 2
            if nodes[mid].master_id <= eid:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1 if lo else None

    @staticmethod
    def _place(nodes, eid, fields, max_entries, max_bytes):
        """Account for a new entry in the node model as streamAppendItem
        does: into the tail node unless that is full (stream-node-max-bytes
        or -max-entries), else a new node whose master entry has its fields.
        Returns whether the entry has the node's field names."""
        tail = nodes[-1] if nodes else None
        nf = len(fields) >> 1
        if tail is not None:
            limit = max_bytes if 0 < max_bytes <= LISTPACK_MAX_SIZE else LISTPACK_MAX_SIZE
            if tail.body + _int_size(tail.live) + _int_size(tail.deleted) \
                    + sum(map(len, fields)) >= limit:
                tail = None
            elif max_entries and tail.live + tail.deleted >= max_entries:
                tail = None
        if tail is None:
            # header (6) + end (1), master entry: count and deleted (kept
            # apart), number of fields, the fields, a zero terminator.
            names = fields[0::2]
            body = 7 + _int_size(nf) + sum(map(_str_size, names)) + 2
            tail = StreamNode(eid, names, body)
            nodes.append(tail)
            same = True
            size = 6                      # flags, ms and seq deltas: 0-127 each
        else:
            same = fields[0::2] == tail.fields
            master = tail.master_id
            size = (2 + _int_size(_delta(eid >> 64, master >> 64))
                    + _int_size(_delta(eid & U64, master & U64)))
        if same:
            size += sum(map(_str_size, fields[1::2])) + _int_size(nf + 3)
        else:
            size += _int_size(nf) + sum(map(_str_size, fields)) + _int_size(2 * nf + 4)
        tail.body += size
        tail.live += 1
        tail.last_id = eid
        return same
