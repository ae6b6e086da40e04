"""Pacing for long background work done in slices (lazy free, active
expiry, KEYS over a big database).

Yielding between slices (``gevent.sleep(0)``) lets other clients' greenlets
run, but the process stays busy: on a machine with more runnable tasks
than cores the kernel's scheduler then stops favouring it on wake-up and
preempts it for whole timeslices, so a client's PING waits tens of
milliseconds for a CPU although no greenlet ran long.  Measured on the
shared 2-core machine (another client's largest PING round trip during
UNLINK of a 1,000,000-member set): 35-200 ms with sleep(0) alone,
8-16 ms when the work also rests 1 ms after every 2 ms of running.
"""
import time

import gevent

BUSY_S = 0.002      # work between two rests
REST_S = 0.001      # a real sleep: the process leaves the CPU


class Pacer:
    """Call ``pause()`` between two slices of work: a ``sleep(0)``, or a
    ``REST_S`` sleep once the work has run ``BUSY_S`` since the last rest."""

    __slots__ = ("busy_s", "rest_s", "since")

    def __init__(self, busy_s=BUSY_S, rest_s=REST_S):
        self.busy_s = busy_s
        self.rest_s = rest_s
        self.since = time.perf_counter()

    def pause(self):
        if time.perf_counter() - self.since >= self.busy_s:
            gevent.sleep(self.rest_s)
            self.since = time.perf_counter()
        else:
            gevent.sleep(0)
