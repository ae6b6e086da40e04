"""Sorted set value: member -> score dict plus a sorted index.

The index is a ``sortedcontainers.SortedList`` of ``(score, member)`` pairs,
which orders exactly as Redis does (by score, then by member bytes) and gives
O(log n) rank, insert, delete and range lookups.
"""
from sortedcontainers import SortedList


class ZSet:
    __slots__ = ("scores", "index")

    def __init__(self, items=()):
        self.scores = {}
        self.index = SortedList()
        for member, score in items:
            self.add(member, score)

    def __len__(self):
        return len(self.scores)

    def __contains__(self, member):
        return member in self.scores

    def __eq__(self, other):
        return isinstance(other, ZSet) and self.scores == other.scores

    def __repr__(self):
        return "ZSet(%r)" % list(self.items())

    def score(self, member):
        return self.scores.get(member)

    def add(self, member, score):
        """Insert or update; returns True when the member is new."""
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return False
            self.index.remove((old, member))
            self.scores[member] = score
            self.index.add((score, member))
            return False
        self.scores[member] = score
        self.index.add((score, member))
        return True

    def remove(self, member):
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.index.remove((score, member))
        return True

    def rank(self, member):
        score = self.scores.get(member)
        if score is None:
            return None
        return self.index.index((score, member))

    def items(self):
        """(member, score) pairs in ascending order."""
        for score, member in self.index:
            yield member, score

    def copy(self):
        z = ZSet()
        z.scores = dict(self.scores)
        z.index = SortedList(self.index)
        return z
