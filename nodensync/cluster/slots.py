"""Hash slots: Redis Cluster's key -> slot function and per-slot key lookups.

``key_slot`` is Redis's ``keyHashSlot``: CRC16 (XMODEM, which is exactly
``binascii.crc_hqx(data, 0)``, computed in C) of the key, or of its hash tag
-- the part between the first ``{`` and the first ``}`` after it, when that
part is not empty -- modulo 16384.

Per-slot key lookups (COUNTKEYSINSLOT, GETKEYSINSLOT, the keys MIGRATE moves
while resharding) do not need an index maintained on every write: the
keyspace stays plain dicts (no per-key cost on the hot path).  ``SlotIndex``
builds slot -> keys with one pass over the database and reuses it while it
is still exact:

* nothing changed since it was built (the keyspace's ``dirty`` counter), or
* the slot is MIGRATING on this node and the index was built after that
  started: no key can be created in such a slot any more (a missing key is
  redirected with ASK), so its key list only shrinks -- filtering the cached
  list by ``key in db.data`` is exact.  That is what keeps resharding a big
  dataset O(keys) instead of O(keys x slots).
"""
from binascii import crc_hqx

from ..errors import CommandError

SLOTS = 16384
_MASK = SLOTS - 1

INVALID_SLOT = "ERR Invalid or out of range slot"


def key_slot(key):
    """Redis's keyHashSlot for a key given as bytes."""
    s = key.find(b"{")
    if s != -1:
        e = key.find(b"}", s + 1)
        if e != -1 and e != s + 1:
            key = key[s + 1:e]
    return crc_hqx(key, 0) & _MASK


def parse_slot(arg, error=INVALID_SLOT):
    """A slot number argument (Redis's getSlotOrReply: a canonical integer
    in 0..16383)."""
    try:
        n = int(arg)
    except (ValueError, TypeError):
        raise CommandError(error) from None
    if not 0 <= n < SLOTS or b"%d" % n != arg:
        raise CommandError(error)
    return n


def ranges(slots):
    """Sorted slot numbers -> [(start, end), ...] of contiguous runs."""
    out = []
    start = prev = None
    for s in slots:
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            out.append((start, prev))
            start = prev = s
    if start is not None:
        out.append((start, prev))
    return out


def format_ranges(slot_ranges):
    """[(0, 5460), (7, 7)] -> ['0-5460', '7'] (CLUSTER NODES)."""
    return ["%d" % a if a == b else "%d-%d" % (a, b) for a, b in slot_ranges]


class SlotIndex:
    """slot -> keys of one database, rebuilt by a full pass only when it
    may be stale (see the module docstring)."""

    def __init__(self, get_db):
        self.get_db = get_db      # the database may be replaced (full sync, FLUSHALL)
        self.db = None
        self.by_slot = None
        self.built_dirty = -1
        self.built_seq = -1      # value of ``seq`` when built
        self.seq = 0             # bumped by ``touch``: migration start events

    def _build(self):
        by_slot = {}
        self.db = self.get_db()
        self.data = self.db.data
        for key in self.data:
            s = key_slot(key)
            lst = by_slot.get(s)
            if lst is None:
                by_slot[s] = [key]
            else:
                lst.append(key)
        self.by_slot = by_slot
        self.built_dirty = self.db.keyspace.dirty
        self.built_seq = self.seq

    def mark(self):
        """A migration started: returns a token; an index built after the
        token may be trusted for that slot."""
        self.seq += 1
        return self.seq

    def keys(self, slot, migrating_token=None):
        """Live keys of ``slot`` (expired-but-present keys included, as
        Redis counts them until they are reclaimed)."""
        db = self.get_db()
        same = self.by_slot is not None and db is self.db and db.data is self.data
        fresh = same and self.built_dirty == db.keyspace.dirty
        trusted = (same and migrating_token is not None and self.built_seq >= migrating_token)
        if not fresh and not trusted:
            self._build()
            fresh = True
        elif fresh:
            self.built_seq = self.seq     # exact right now: trusted for open migrations
        lst = self.by_slot.get(slot, ())
        if fresh:
            return list(lst)
        data = db.data
        live = [k for k in lst if k in data]
        if len(live) != len(lst):
            if live:
                self.by_slot[slot] = live
            else:
                self.by_slot.pop(slot, None)
        return live

    def count(self, slot, migrating_token=None):
        return len(self.keys(slot, migrating_token))
