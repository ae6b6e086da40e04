"""Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD
(blocking too), XSETID.  The value model is storage/stream.py; consumer
groups are in commands/stream_groups.py."""
