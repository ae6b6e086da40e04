"""The replication backlog: the tail of the replication stream, by offset.

Offsets are Redis's: the stream's bytes are numbered from 1, and
``offset`` (``master_repl_offset``) is the number of the last byte written.
``first`` is the number of ``buf[0]`` (``repl_backlog_first_byte_offset``)
and ``len(buf)`` is ``repl_backlog_histlen``.

The buffer is also every replica's output buffer, as Redis 7.0's shared
replication buffer: a replica link only remembers the offset of the next
byte it has to send, and the backlog never drops bytes a connected replica
still needs (``pin()`` gives the smallest such offset).  So the stream is
encoded once whatever the number of replicas, and a replica that falls
behind by more than ``repl-backlog-size`` is not lost as long as its own
output-buffer limit (``client-output-buffer-limit replica``) holds; the
replication cron closes it when that limit is passed.

Trimming is amortised: bytes beyond ``size`` are dropped once the buffer
holds ``SLACK`` more (so ``histlen`` may exceed the size by up to that
much, as Redis's backlog does by up to one 16 KB block).  Deleting the head
of a ``bytearray`` is O(1) in CPython (the start pointer moves).
"""

MIN_SIZE = 16 * 1024          # Redis's CONFIG_REPL_BACKLOG_MIN_SIZE
SLACK = 16 * 1024


class Backlog:
    __slots__ = ("buf", "first", "offset", "size", "pin")

    def __init__(self, size, next_offset, pin=None):
        self.buf = bytearray()
        self.first = next_offset          # offset of buf[0]
        self.offset = next_offset - 1     # offset of the last byte written
        self.size = max(int(size), MIN_SIZE)
        # fn() -> smallest offset a connected replica still has to send, or None
        self.pin = pin

    def __len__(self):
        return len(self.buf)

    @property
    def histlen(self):
        return len(self.buf)

    def append(self, data):
        buf = self.buf
        buf += data
        self.offset += len(data)
        if len(buf) > self.size + SLACK:
            self.trim()

    def trim(self):
        cut = len(self.buf) - self.size
        if cut <= 0:
            return
        pin = self.pin() if self.pin is not None else None
        if pin is not None:
            cut = min(cut, pin - self.first)
        if cut > 0:
            del self.buf[:cut]
            self.first += cut

    def resize(self, size):
        self.size = max(int(size), MIN_SIZE)
        self.trim()

    def covers(self, offset):
        """True when the stream from byte ``offset`` on is all here (a
        PSYNC asking for ``offset`` can continue)."""
        return self.first <= offset <= self.offset + 1

    def read(self, offset, limit):
        """Up to ``limit`` bytes from byte ``offset`` (a copy)."""
        start = offset - self.first
        if start < 0:
            raise ValueError("offset %d is no longer in the backlog (first %d)"
                             % (offset, self.first))
        return self.buf[start:start + limit]

    def pending(self, offset):
        """Bytes from ``offset`` to the end."""
        return self.offset + 1 - offset
