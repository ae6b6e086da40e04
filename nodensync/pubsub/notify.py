"""Keyspace notifications (``notify-keyspace-events``).

Handlers report every change with ``db.modified(key, event, klass)``; the
keyspace calls ``keyspace.notify(klass, event, key, dbid)`` when any
notification class is on.  This module installs that function: when the
event's class letter is enabled it publishes, through the broker,

* ``__keyspace@<db>__:<key>``  with the event name as the message (flag K)
* ``__keyevent@<db>__:<event>`` with the key name as the message (flag E)

exactly as Redis's ``notifyKeyspaceEvent``.  ``keyspace.notify_flags`` is the
parsed setting (``server/core.parse_notify_flags``: the class letters with
'A' expanded, empty when neither K nor E is on).
"""


def install(node, broker):
    ks = node.keyspace
    publish = broker.publish

    def notify(klass, event, key, dbid):
        flags = ks.notify_flags
        if klass not in flags:
            return
        if type(event) is str:
            event = event.encode()
        if "K" in flags:
            publish(b"__keyspace@%d__:%s" % (dbid, key), event)
        if "E" in flags:
            publish(b"__keyevent@%d__:%s" % (dbid, event), key)

    ks.notify = notify
