"""Every error a client can see, in one place, with Redis 7's exact texts.

A handler raises ``CommandError``; the dispatcher turns it into a RESP error
reply and the connection goes on.  Errors that end a connection (protocol
violations) are ``ProtocolError``.
"""


class CommandError(Exception):
    """An error reply.  ``message`` is the text after the leading '-',
    starting with its kind (``ERR``, ``WRONGTYPE``, ``MOVED`` ...)."""

    __slots__ = ("message",)
    # (set on a script's error whose cause, a command the script ran, is in
    # the error stats already: its reply is not counted again)
    counted = False

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    @property
    def kind(self):
        return self.message.split(" ", 1)[0]


class ProtocolError(Exception):
    """Malformed input: replied to with ``-ERR Protocol error: ...`` and the
    connection is closed, as Redis does."""


# Texts used by many commands.
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
SYNTAX = "ERR syntax error"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"
OVERFLOW = "ERR increment or decrement would overflow"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
DB_INDEX = "ERR DB index is out of range"
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
READONLY = "READONLY You can't write against a read only replica."
OOM = "OOM command not allowed when used memory > 'maxmemory'."
LOADING = "LOADING Redis is loading the dataset in memory"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOPROTO = "NOPROTO unsupported protocol version"
MISCONF = ("MISCONF Redis is configured to save RDB snapshots, but it's currently "
           "unable to persist to disk. Commands that may modify the data set are "
           "disabled, because this instance is configured to report errors during "
           "writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "
           "Please check the Redis logs for details about the RDB error.")


def err(message):
    """Shorthand for raising: ``raise err(SYNTAX)``."""
    return CommandError(message)


def _printable(text, limit=128):
    # Redis truncates user-supplied names to 128 bytes and maps CR/LF to spaces
    # so an error reply can never break the protocol.
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[:limit].replace("\r", " ").replace("\n", " ")


def unknown_command(argv):
    args = ""
    for a in argv[1:]:
        if len(args) >= 128:
            break
        args += "'%s' " % _printable(a, 128 - len(args))
    return CommandError("ERR unknown command '%s', with args beginning with: %s"
                        % (_printable(argv[0]), args))


def wrong_arity(fullname):
    return CommandError("ERR wrong number of arguments for '%s' command" % fullname)


def subcommand_syntax(sub, container):
    """Redis's addReplySubcommandSyntaxError: the subcommand as sent (its
    first 128 bytes), the container upper case."""
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%s'. "
                        "Try %s HELP." % (_printable(sub), container.upper()))


def unknown_subcommand(sub, container):
    return CommandError("ERR unknown subcommand '%s'. Try %s HELP."
                        % (_printable(sub), container.upper()))
