"""NodeNsync: a Redis-compatible distributed key-value server on gevent."""
__version__ = "0.1.0"
# The Redis version whose behaviour NodeNsync matches; reported as
# redis_version so clients enable the right features.
REDIS_VERSION = "7.0.15"
