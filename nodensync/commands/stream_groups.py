"""Stream consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM,
XAUTOCLAIM, XINFO.  The value model is storage/stream.py."""
