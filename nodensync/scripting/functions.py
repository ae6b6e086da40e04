"""Redis 7 functions: libraries loaded by FUNCTION LOAD into their own Lua
state, the functions they register, and the RESTORE payload format
(``FUNCTION DUMP``: one RDB_OPCODE_FUNCTION2 record per library, the RDB
version and a CRC-64, as DUMP payloads)."""
from ..errors import CommandError
from ..protocol.request import split_args
from ..storage import rdb
from ..storage.crc64 import crc64
from . import engine as E

LIBRARY_NAME_ERROR = ("ERR Library names can only contain letters, numbers, or underscores(_) "
                      "and must be at least one character long")
FLAG_ORDER = [(E.NO_WRITES, b"no-writes"), (E.ALLOW_OOM, b"allow-oom"),
              (E.ALLOW_STALE, b"allow-stale"), (E.NO_CLUSTER, b"no-cluster"),
              (E.ALLOW_CROSS_SLOT, b"allow-cross-slot-keys")]


class Function:
    __slots__ = ("name", "callback", "flags", "description", "library")

    def __init__(self, name, callback, flags, description, library):
        self.name = name
        self.callback = callback
        self.flags = flags
        self.description = description
        self.library = library


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name, code):
        self.name = name
        self.code = code
        self.functions = {}


def parse_metadata(code):
    """(engine, library name, offset of the code) from the ``#!lua
    name=<lib>`` line (functionExtractLibMetaData's texts)."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid library metadata")
    parts = split_args(code[:end])     # sdssplitargs: name="foo" is foo
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("ERR Invalid metadata value, name argument was given "
                                   "multiple times")
            name = part[5:]
        else:
            raise CommandError("ERR Invalid metadata value given: %s"
                               % part.decode("utf-8", "replace"))
    if name is None:
        raise CommandError("ERR Library name was not given")
    return engine, name, end


class FunctionStore:
    """Every library and function; the functions' Lua state."""

    def __init__(self, node):
        self.node = node
        self.libraries = {}      # name -> Library
        self.functions = {}      # lowercased name -> Function
        self._engine = None

    def engine(self):
        if self._engine is None:
            self._engine = E.LuaEngine(self.node)
            self._load_library = self._engine.api[b"load_library"]
            self._call_fn = self._engine.api[b"call_fn"]
        return self._engine

    # -- building libraries ------------------------------------------------------------
    def check_header(self, code):
        """(library name, offset of the code) after the checks Redis makes
        before running any code: metadata, engine, library name."""
        engine_name, name, offset = parse_metadata(code)
        if engine_name.lower() != b"lua":
            raise CommandError("ERR Engine '%s' not found" % engine_name.decode("utf-8", "replace"))
        if not name or not name.isascii() or not all(c.isalnum() or c == "_"
                                                     for c in name.decode("ascii")):
            raise CommandError(LIBRARY_NAME_ERROR)
        return name, offset

    def compile(self, code, header=None, timeout_ms=0):
        """A new Library from its code (not installed); CommandError.  Its
        code may run ``timeout_ms`` at most (0: no limit)."""
        name, offset = header or self.check_header(code)
        lib = Library(name, code)
        self.engine()
        registered, err = self._load_library(code[offset:], timeout_ms)
        if registered is None:
            raise CommandError(err.decode("utf-8", "replace"))
        if not len(registered):
            raise CommandError("ERR No functions registered")
        for i in range(1, len(registered) + 1):
            f = registered[i]
            lib.functions[f[b"name"]] = Function(f[b"name"], f[b"callback"], int(f[b"flags"]),
                                                 f[b"description"], lib)
        return lib

    def install(self, libs, replace=False, exists_error="ERR Library '%s' already exists"):
        """Add compiled libraries: a library of the same name is an error
        unless ``replace``; a function name taken by another library is an
        error; all or nothing."""
        new_libs = dict(self.libraries)
        for lib in libs:
            if lib.name in new_libs:
                if not replace:
                    raise CommandError(exists_error % lib.name.decode("utf-8", "replace"))
            new_libs[lib.name] = lib
        functions = {}
        for lib in new_libs.values():
            for fname, f in lib.functions.items():
                # Function names are case-insensitive across libraries, as
                # Redis's functions dict; two names of one library differing
                # only by case are both kept in it, and FCALL finds one of
                # them (Redis: whichever its dict links first).
                key = fname.lower()
                other = functions.get(key)
                if other is not None:
                    if other.library is lib:
                        continue
                    raise CommandError("ERR Function %s already exists"
                                       % fname.decode("utf-8", "replace"))
                functions[key] = f
        self.libraries = new_libs
        self.functions = functions

    def load(self, code, replace=False, timeout_ms=0):
        header = self.check_header(code)
        if header[0] in self.libraries and not replace:
            raise CommandError("ERR Library '%s' already exists"
                               % header[0].decode("utf-8", "replace"))
        lib = self.compile(code, header, timeout_ms)
        self.install([lib], replace=True)
        return lib.name

    def delete(self, name):
        lib = self.libraries.get(name)
        if lib is None:
            raise CommandError("ERR Library not found")
        libs = dict(self.libraries)
        del libs[name]
        self.libraries = libs
        self.functions = {n: f for n, f in self.functions.items() if f.library is not lib}

    def flush(self):
        self.libraries = {}
        self.functions = {}
        self._engine = None            # a fresh Lua state

    def codes(self):
        return [lib.code for lib in self.libraries.values()]

    def replace_all(self, codes):
        """The libraries of an RDB file or a full resync, instead of ours."""
        self.flush()
        self.install([self.compile(code) for code in codes], replace=True)

    # -- DUMP / RESTORE ----------------------------------------------------------------
    def dump(self, compress=True):
        enc = rdb.Encoder(compress)
        out = bytearray()
        for code in self.codes():
            out.append(rdb.OP_FUNCTION2)
            out += enc.string(code)
        out += rdb.RDB_VERSION.to_bytes(2, "little")
        return bytes(out) + crc64(bytes(out)).to_bytes(8, "little")

    def restore(self, payload, policy):
        if not rdb.verify_payload(payload):
            raise CommandError("ERR DUMP payload version or checksum are wrong")
        p = rdb.RdbParser(payload, end=len(payload) - 10, name="DUMP payload")
        codes = []
        try:
            while p.p < len(payload) - 10:
                t = p.u8()
                if t != rdb.OP_FUNCTION2:
                    raise CommandError("ERR given type is not a function")
                codes.append(p.string())
        except rdb.RdbError:
            raise CommandError("ERR payload is not a valid functions dump") from None
        libs = [self.compile(code) for code in codes]
        if policy == b"flush":
            saved = (self.libraries, self.functions)
            self.libraries, self.functions = {}, {}
            try:
                self.install(libs, replace=True)
            except CommandError:
                self.libraries, self.functions = saved
                raise
        else:
            self.install(libs, replace=policy == b"replace",
                         exists_error="ERR Library %s already exists")

    # -- FUNCTION LIST ----------------------------------------------------------------
    def describe(self, lib, with_code):
        functions = []
        for f in lib.functions.values():
            flags = [name for bit, name in FLAG_ORDER if f.flags & bit]
            functions.append({b"name": f.name, b"description": f.description,
                              b"flags": flags})
        out = {b"library_name": lib.name, b"engine": b"LUA", b"functions": functions}
        if with_code:
            out[b"library_code"] = lib.code
        return out
