"""storage.keyspace.KeyHook: a hook among a key's WATCH entries is told of
every change a WATCH of the key would see (server/blocking.py's XREADGROUP
waiters rely on it)."""
from nodensync.storage.keyspace import Keyspace, KeyHook


def _hooked(db, key):
    calls = []
    db.watchers.setdefault(key, set()).add(KeyHook(lambda: calls.append(key)))
    return calls


def test_write_delete_expiry_touch_the_hook():
    ks = Keyspace(2)
    db = ks.dbs[0]
    calls = _hooked(db, b"k")
    db.set(b"k", b"v")
    db.modified(b"k")
    db.delete(b"k")
    db.modified(b"k")
    db.set(b"other", b"v")
    db.modified(b"other")
    assert calls == [b"k", b"k"]
    db.set(b"k", b"v")
    db.set_expire(b"k", 1)
    assert db.get(b"k") is None            # expired lazily: on_expired touches it
    assert calls == [b"k"] * 3


def test_flush_and_swap_touch_keys_that_exist_in_either():
    ks = Keyspace(2)
    a, b = ks.dbs
    in_a, in_b, nowhere = _hooked(a, b"x"), _hooked(a, b"y"), _hooked(a, b"z")
    a.set(b"x", b"1")
    b.set(b"y", b"2")
    ks.swap(0, 1)
    assert (in_a, in_b, nowhere) == ([b"x"], [b"y"], [])
    a.flush()                               # a now holds y
    assert (in_a, in_b, nowhere) == ([b"x"], [b"y", b"y"], [])
