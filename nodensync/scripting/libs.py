"""The libraries Redis scripts rely on, for one Lua state: ``bit``
(LuaBitOp 1.0.2's functions), ``cjson`` (lua-cjson 2.1's encoding rules and
defaults: empty table -> ``{}``, ``cjson.null``, numbers with 14 significant
digits, ``/`` escaped, sparse-array and nesting limits), ``struct`` (pack,
unpack, size of the struct library Redis ships) and ``cmsgpack``
(lua-cmsgpack 0.4.0's encodings)."""
import json
import math
import struct

from lupa.lua51 import lua_type as lua51_type

_TOBIT_BIAS = 6755399441055744.0     # 2^52 + 2^51: LuaBitOp's normalisation trick


def tobit(x):
    """LuaBitOp's tobit: the low 32 bits of x + 2^52 + 2^51 (so x rounded
    to an integer, half to even, modulo 2^32), signed."""
    v = struct.unpack("<Q", struct.pack("<d", float(x) + _TOBIT_BIAS))[0] & 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _signed(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


class LibError(Exception):
    """An error of a library function: the Lua side raises ``message``
    prefixed with the calling script's position (as luaL_error does)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message if isinstance(message, bytes) else message.encode()


def _num(fname, i, v):
    if isinstance(v, bool) or v is None or not isinstance(v, (int, float, bytes)):
        raise LibError("bad argument #%d to '%s' (number expected, got %s)"
                           % (i, fname, _lua_type(v)))
    if isinstance(v, bytes):
        try:
            return float(v)
        except ValueError:
            raise LibError("bad argument #%d to '%s' (number expected, got string)"
                               % (i, fname)) from None
    return v


def _lua_type(v):
    if v is None:
        return "no value"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, bytes):
        return "string"
    return "table"


def _bit_functions():
    def unary(name, fn):
        def f(*args):
            return fn(tobit(_num(name, 1, args[0] if args else None)))
        return f

    def variadic(name, op):
        def f(*args):
            acc = tobit(_num(name, 1, args[0] if args else None))
            for i, a in enumerate(args[1:], 2):
                acc = op(acc, tobit(_num(name, i, a)))
            return _signed(acc)
        return f

    def shift(name, op):
        def f(*args):
            x = tobit(_num(name, 1, args[0] if args else None)) & 0xFFFFFFFF
            n = tobit(_num(name, 2, args[1] if len(args) > 1 else None)) & 31
            return _signed(op(x, n))
        return f

    def tohex(*args):
        x = tobit(_num("tohex", 1, args[0] if args else None)) & 0xFFFFFFFF
        n = 8 if len(args) < 2 or args[1] is None else tobit(_num("tohex", 2, args[1]))
        digits = "0123456789abcdef"
        if n < 0:
            n = -n
            digits = digits.upper()
        n = min(n, 8)
        out = []
        for _ in range(n):
            out.append(digits[x & 15])
            x >>= 4
        return "".join(reversed(out)).encode()

    return {
        b"tobit": unary("tobit", lambda x: x),
        b"bnot": unary("bnot", lambda x: _signed(~x)),
        b"bswap": unary("bswap", lambda x: _signed(int.from_bytes(
            (x & 0xFFFFFFFF).to_bytes(4, "little"), "big"))),
        b"band": variadic("band", lambda a, b: a & b),
        b"bor": variadic("bor", lambda a, b: a | b),
        b"bxor": variadic("bxor", lambda a, b: a ^ b),
        b"lshift": shift("lshift", lambda x, n: x << n),
        b"rshift": shift("rshift", lambda x, n: x >> n),
        b"arshift": shift("arshift", lambda x, n: _signed(x) >> n),
        b"rol": shift("rol", lambda x, n: (x << n) | (x >> (32 - n)) if n else x),
        b"ror": shift("ror", lambda x, n: (x >> n) | (x << (32 - n)) if n else x),
        b"tohex": tohex,
    }


# lua-cjson's encoder, on the Lua tables themselves.
_CJSON_LUA = b"""
local decode_py, wrap = ...
local type, pairs, next, tostring, error, format, concat, floor, huge, sbyte, schar, gsub =
      type, pairs, next, tostring, error, string.format, table.concat, math.floor, math.huge,
      string.byte, string.char, string.gsub
local null = newproxy()
local cfg = {precision = 14, max_depth = 1000, decode_max_depth = 1000,
             sparse_convert = false, sparse_ratio = 2, sparse_safe = 10,
             invalid_numbers = false}

local escapes = {['"'] = '\\\\"', ['\\\\'] = '\\\\\\\\', ['/'] = '\\\\/', ['\\b'] = '\\\\b',
                 ['\\f'] = '\\\\f', ['\\n'] = '\\\\n', ['\\r'] = '\\\\r', ['\\t'] = '\\\\t'}
for i = 0, 31 do
  local c = schar(i)
  if not escapes[c] then escapes[c] = format('\\\\u%04x', i) end
end
escapes[schar(127)] = '\\\\u007f'

local function encode_string(s)
  return '"' .. gsub(s, '[%c"\\\\/\\127]', escapes) .. '"'
end

local function encode_number(n)
  if n ~= n or n == huge or n == -huge then
    -- encode_invalid_numbers: off (an error), on ("nan", "inf", "-inf" as
    -- Redis's lua-cjson prints them) or "null"
    local mode = cfg.invalid_numbers
    if mode == "null" then return "null" end
    if not mode then error("Cannot serialise number: must not be NaN or Inf", 0) end
    if n ~= n then return "nan" end
    return n > 0 and "inf" or "-inf"
  end
  return format('%.' .. cfg.precision .. 'g', n)
end

local encode_value
local function encode_table(t, depth, out)
  depth = depth + 1
  if depth > cfg.max_depth then
    error("Cannot serialise, excessive nesting (" .. depth .. ")", 0)
  end
  -- lua_array_length: every key a positive integer -> an array of max items
  local max, items, is_array = 0, 0, true
  for k in next, t do
    if type(k) == "number" and k >= 1 and floor(k) == k then
      if k > max then max = k end
      items = items + 1
    else
      is_array = false
      break
    end
  end
  if is_array and max > 0 then
    if max > items * cfg.sparse_ratio and max > cfg.sparse_safe then
      if not cfg.sparse_convert then
        error("Cannot serialise table: excessively sparse array", 0)
      end
      is_array = false
    end
  end
  if is_array and max > 0 then
    out[#out + 1] = "["
    for i = 1, max do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], depth, out)
    end
    out[#out + 1] = "]"
    return
  end
  out[#out + 1] = "{"
  local first = true
  for k, v in next, t do
    if not first then out[#out + 1] = "," end
    first = false
    local kt = type(k)
    if kt == "string" then
      out[#out + 1] = encode_string(k)
    elseif kt == "number" then
      out[#out + 1] = '"' .. encode_number(k) .. '"'
    else
      error("Cannot serialise table: table key must be a number or string", 0)
    end
    out[#out + 1] = ":"
    encode_value(v, depth, out)
  end
  out[#out + 1] = "}"
end

encode_value = function(v, depth, out)
  local t = type(v)
  if t == "string" then out[#out + 1] = encode_string(v)
  elseif t == "number" then out[#out + 1] = encode_number(v)
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "nil" or v == null then out[#out + 1] = "null"
  elseif t == "table" then encode_table(v, depth, out)
  else error("Cannot serialise " .. t .. ": type not supported", 0) end
end

local cjson = {null = null, _NAME = "cjson", _VERSION = "2.1.0"}
-- (encode and decode are called through Python callables, C functions for
-- Lua: a script's "return cjson.encode(x)" keeps its frame for the error
-- position, as with the real C library.)
local function encode(n, v)
  if n ~= 1 then return false, "bad argument #1 to 'encode' (expected 1 argument)" end
  local out = {}
  local ok, err = pcall(encode_value, v, 0, out)
  if not ok then return false, err end
  return true, concat(out)
end
local function decode(n, s)
  if n ~= 1 then return false, "bad argument #1 to 'decode' (expected 1 argument)" end
  if type(s) == "number" then s = tostring(s) end
  if type(s) ~= "string" then
    return false, "bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")"
  end
  return decode_py(s, null, cfg.decode_max_depth)
end
cjson.encode, cjson.decode = wrap(encode), wrap(decode)
local function setting(key, check)
  return function(v)
    if v ~= nil then
      if check then v = check(v) end
      cfg[key] = v
    end
    return cfg[key]
  end
end
cjson.encode_number_precision = setting("precision", function(v)
  v = tonumber(v)
  if not v or v < 1 or v > 14 then error("bad argument #1 to 'encode_number_precision' " ..
                                         "(expected integer between 1 and 14)", 3) end
  return floor(v)
end)
cjson.encode_max_depth = setting("max_depth", tonumber)
cjson.decode_max_depth = setting("decode_max_depth", tonumber)
cjson.encode_sparse_array = function(convert, ratio, safe)
  if convert ~= nil then cfg.sparse_convert = convert and true or false end
  if ratio ~= nil then cfg.sparse_ratio = tonumber(ratio) end
  if safe ~= nil then cfg.sparse_safe = tonumber(safe) end
  return cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe
end
cjson.encode_keep_buffer = function(v) return true end
cjson.encode_invalid_numbers = setting("invalid_numbers", function(v)
  -- lua-cjson's config_set_int with the options off / on / null
  if v == true or v == "on" then return true end
  if v == false or v == "off" then return false end
  if v == "null" then return "null" end
  error("bad argument #1 to '?' (invalid option '" .. tostring(v) .. "')", 3)
end)
cjson.decode_invalid_numbers = function(v) return true end
cjson.new = function() return cjson end
return cjson
"""


def _decoder(lua):
    table_from = lua.table_from

    def to_lua(v, null, depth, limit):
        if depth > limit:
            raise ValueError("Found too many nested data structures (%d)" % depth)
        if isinstance(v, str):
            return v.encode("utf-8", "surrogatepass")
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float)):
            return float(v)
        if v is None:
            return null
        if isinstance(v, list):
            return table_from([to_lua(x, null, depth + 1, limit) for x in v])
        return table_from({k.encode("utf-8", "surrogatepass"): to_lua(x, null, depth + 1, limit)
                           for k, x in v.items()})

    def decode(s, null, limit):
        try:
            text = s.decode("utf-8", "surrogateescape")
            value = json.loads(text, parse_constant=_bad_constant)
        except json.JSONDecodeError as e:
            if not text.strip():
                return False, b"Expected value but found T_END at character %d" % (len(text) + 1)
            return False, ("Expected value but found invalid token at character %d"
                           % (e.pos + 1)).encode()
        except ValueError as e:
            return False, str(e).encode()
        try:
            return True, to_lua(value, null, 1, limit)
        except ValueError as e:
            return False, str(e).encode()
        except RecursionError:
            return False, b"Found too many nested data structures"
    return decode


def _bad_constant(name):
    # lua-cjson 2.1 decodes NaN/Infinity ("decode_invalid_numbers" on)
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _wrap(impl):
    """A Python callable running the Lua function ``impl(n, ...)`` ->
    (ok, result or message): LibError on failure."""
    def call(*args):
        ok, res = impl(len(args), *args)
        if not ok:
            raise LibError(res)
        return res
    return call


def build(lua):
    """name -> Lua table of the libraries implemented here."""
    bit = lua.table_from(_bit_functions())
    cjson = lua.execute(_CJSON_LUA, _decoder(lua), _wrap, name="=nodensync")
    struct_lib = lua.table_from({b"pack": struct_pack, b"unpack": struct_unpack,
                                 b"size": struct_size})
    return {b"bit": bit, b"cjson": cjson, b"struct": struct_lib, b"cmsgpack": _cmsgpack(lua)}


# -- struct (Roberto Ierusalimschy's struct library 0.2, as Redis ships it) ---------------
_MAXINTSIZE = 32
_MAXALIGN = 8
_NATIVE_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8,
                 "x": 1}


class _Format:
    """A struct format string read option by option (with its sizes)."""

    def __init__(self, fname, fmt):
        self.fname = fname
        self.fmt = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
        self.i = 0
        self.little = True
        self.align = 1

    def number(self, default):
        start = self.i
        while self.i < len(self.fmt) and self.fmt[self.i].isdigit():
            self.i += 1
        if self.i == start:
            return default
        value = int(self.fmt[start:self.i])
        if value > 2 ** 31 - 1:
            raise LibError("integral size overflow")
        return value

    def options(self):
        while self.i < len(self.fmt):
            opt = self.fmt[self.i]
            self.i += 1
            if opt in _NATIVE_SIZES:
                size = _NATIVE_SIZES[opt]
            elif opt == "c":
                size = self.number(1)
            elif opt in "iI":
                size = self.number(4)
                if size > _MAXINTSIZE:
                    raise LibError("integral size %d is larger than limit of %d"
                                   % (size, _MAXINTSIZE))
            else:
                size = 0
            yield opt, size

    def padding(self, pos, opt, size):
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (pos & (size - 1))) & (size - 1)

    def control(self, opt):
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            a = self.number(_MAXALIGN)
            if a <= 0 or a & (a - 1):
                raise LibError("alignment %d is not a power of 2" % a)
            self.align = a
        else:
            raise LibError("bad argument #1 to '%s' (invalid format option '%s')"
                           % (self.fname, opt))


def _check_number(fname, args, i):
    v = args[i] if i < len(args) else None
    if isinstance(v, bool) or not isinstance(v, (int, float, bytes)):
        # (pack pushes a nil after its arguments: a missing one is "nil")
        got = "nil" if v is None and fname == "pack" else _lua_type(v)
        raise LibError("bad argument #%d to '%s' (number expected, got %s)"
                       % (i + 1, fname, got))
    if isinstance(v, bytes):
        try:
            return float(v)
        except ValueError:
            raise LibError("bad argument #%d to '%s' (number expected, got string)"
                           % (i + 1, fname)) from None
    return v


def _check_string(fname, args, i):
    v = args[i] if i < len(args) else None
    if isinstance(v, bytes):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return b"%.14g" % v
    got = "nil" if v is None and fname == "pack" and i > 0 else _lua_type(v)
    raise LibError("bad argument #%d to '%s' (string expected, got %s)" % (i + 1, fname, got))


def _c_int64(n):
    """C's (long long) of a double, as x86-64 computes it."""
    if n != n or n >= 2 ** 63 or n < -2 ** 63:
        return -2 ** 63
    return int(n)


def struct_pack(*args):
    f = _Format("pack", _check_string("pack", args, 0))
    out = bytearray()
    arg = 1
    for opt, size in f.options():
        pad = f.padding(len(out), opt, size)
        out += b"\0" * pad
        if opt in "bBhHlLTiI":
            n = _check_number("pack", args, arg)
            arg += 1
            value = (_c_int64(n) if n < 0 else int(min(n, 2 ** 64 - 1))) & (2 ** 64 - 1)
            data = value.to_bytes(8, "little")[:size].ljust(size, b"\0")
            out += data if f.little else data[::-1]
        elif opt == "x":
            out += b"\0"
        elif opt in "fd":
            n = float(_check_number("pack", args, arg))
            arg += 1
            try:
                data = struct.pack("<f" if opt == "f" else "<d", n)
            except OverflowError:
                data = struct.pack("<f", math.copysign(math.inf, n))
            out += data if f.little else data[::-1]
        elif opt in "cs":
            s = _check_string("pack", args, arg)
            arg += 1
            if size == 0:
                size = len(s)
            if len(s) < size:
                raise LibError("bad argument #%d to 'pack' (string too short)" % (arg + 1))
            out += s[:size]
            if opt == "s":
                out += b"\0"
        else:
            f.control(opt)
    return bytes(out)


def struct_unpack(*args):
    f = _Format("unpack", _check_string("unpack", args, 0))
    data = _check_string("unpack", args, 1)
    pos = 1
    if len(args) > 2 and args[2] is not None:
        pos = int(_check_number("unpack", args, 2))
    if pos <= 0:
        raise LibError("bad argument #3 to 'unpack' (offset must be 1 or greater)")
    pos -= 1
    ld = len(data)
    results = []
    too_short = "bad argument #2 to 'unpack' (data string too short)"
    for opt, size in f.options():
        pos += f.padding(pos, opt, size)
        if size > ld or pos > ld - size:
            raise LibError(too_short)
        if opt in "bBhHlLTiI":
            raw = data[pos:pos + size]
            if f.little:
                raw = raw[::-1]
            value = int.from_bytes(raw, "big") & (2 ** 64 - 1)
            if opt.islower():
                bits = min(size * 8, 64)
                if value & (1 << (bits - 1)):
                    value -= 1 << bits
            results.append(float(value))
        elif opt == "x":
            pass
        elif opt in "fd":
            raw = data[pos:pos + size]
            results.append(struct.unpack("<f" if opt == "f" else "<d",
                                         raw if f.little else raw[::-1])[0])
        elif opt == "c":
            if size == 0:
                if not results or not isinstance(results[-1], float):
                    raise LibError("format 'c0' needs a previous size")
                size = int(results.pop())
                if size > ld or pos > ld - size:
                    raise LibError(too_short)
            results.append(data[pos:pos + size])
        elif opt == "s":
            end = data.find(b"\0", pos)
            if end < 0:
                raise LibError("unfinished string in data")
            size = end - pos + 1
            results.append(data[pos:end])
        else:
            f.control(opt)
        pos += size
    results.append(pos + 1)
    return tuple(results)


def struct_size(*args):
    f = _Format("size", _check_string("size", args, 0))
    pos = 0
    for opt, size in f.options():
        pos += f.padding(pos, opt, size)
        if opt == "s" or (opt == "c" and size == 0):
            raise LibError("bad argument #1 to 'size' (option '%s' has no fixed size)"
                           % ("s" if opt == "s" else "c0"))
        if opt not in _NATIVE_SIZES and opt not in "ciI":
            f.control(opt)
        pos += size
    return pos


# -- cmsgpack (lua-cmsgpack 0.4.0, as Redis ships it) ----------------------------------------
_MAX_NESTING = 16


def _mp_header(out, n, fix, fix_max, code8, code16, code32):
    """A string, array or map header: the fix form, else the smallest sized one."""
    if n <= fix_max:
        out.append(fix | n)
    elif code8 is not None and n <= 0xFF:
        out += bytes((code8, n))
    elif n <= 0xFFFF:
        out += bytes((code16,)) + struct.pack(">H", n)
    else:
        out += bytes((code32,)) + struct.pack(">I", n)


class _MsgPackEncoder:
    """lua-cmsgpack's encoder, walking the Lua values through lupa."""

    def __init__(self, lua):
        self.lua_type = lua51_type

    def value(self, v, out, level):
        if isinstance(v, bytes):
            _mp_header(out, len(v), 0xA0, 31, 0xD9, 0xDA, 0xDB)
            out += v
        elif isinstance(v, bool):
            out.append(0xC3 if v else 0xC2)
        elif isinstance(v, int) and -2 ** 63 <= v < 2 ** 63:
            self.integer(v, out)
        elif isinstance(v, (int, float)):
            d = float(v)
            try:             # (C: float f = d; if (d == (double)f) float32)
                exact = struct.unpack(">f", struct.pack(">f", d))[0] == d
            except OverflowError:
                exact = False
            out += b"\xca" + struct.pack(">f", d) if exact else b"\xcb" + struct.pack(">d", d)
        elif self.lua_type(v) == "table" and level < _MAX_NESTING:
            self.table(v, out, level)
        else:
            out.append(0xC0)

    @staticmethod
    def integer(n, out):
        if n >= 0:
            if n <= 127:
                out.append(n)
            elif n <= 0xFF:
                out += b"\xcc" + struct.pack(">B", n)
            elif n <= 0xFFFF:
                out += b"\xcd" + struct.pack(">H", n)
            elif n <= 0xFFFFFFFF:
                out += b"\xce" + struct.pack(">I", n)
            else:
                out += b"\xcf" + struct.pack(">Q", n)
        elif n >= -32:
            out += struct.pack(">b", n)
        elif n >= -128:
            out += b"\xd0" + struct.pack(">b", n)
        elif n >= -32768:
            out += b"\xd1" + struct.pack(">h", n)
        elif n >= -2 ** 31:
            out += b"\xd2" + struct.pack(">i", n)
        else:
            out += b"\xd3" + struct.pack(">q", n)

    def table(self, t, out, level):
        items = list(t.items())
        count = len(items)
        top = 0
        is_array = True
        for k, _ in items:
            if isinstance(k, bool) or not isinstance(k, (int, float)) or k <= 0 or k != int(k):
                is_array = False
                break
            top = max(top, k)
        if is_array and top == count:
            n = len(t)
            _mp_header(out, n, 0x90, 15, None, 0xDC, 0xDD)
            for j in range(1, n + 1):
                self.value(t[j], out, level + 1)
            return
        _mp_header(out, count, 0x80, 15, None, 0xDE, 0xDF)
        for k, v in items:
            self.value(k, out, level + 1)
            self.value(v, out, level + 1)


class _MsgPackError(Exception):
    pass


def _mp_decode(data, pos, lua):
    """(value, next position) of the MessagePack object at ``pos``."""
    def need(n):
        if pos + n > len(data):
            raise _MsgPackError("Missing bytes in input.")

    need(1)
    c = data[pos]
    pos += 1
    fixed = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h",
             0xD2: ">i", 0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
    if c in fixed:
        fmt = fixed[c]
        size = struct.calcsize(fmt)
        need(size)
        v = struct.unpack(fmt, data[pos:pos + size])[0]
        return (float(v) if c != 0xCA and c != 0xCB else v), pos + size
    if c == 0xC0:
        return None, pos
    if c in (0xC2, 0xC3):
        return c == 0xC3, pos
    lengths = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xC4: ">B", 0xC5: ">H", 0xC6: ">I",
               0xDC: ">H", 0xDD: ">I", 0xDE: ">H", 0xDF: ">I"}
    if c in lengths:
        size = struct.calcsize(lengths[c])
        need(size)
        n = struct.unpack(lengths[c], data[pos:pos + size])[0]
        pos += size
        kind = "array" if c in (0xDC, 0xDD) else "map" if c in (0xDE, 0xDF) else "str"
    elif c <= 0x7F:
        return float(c), pos
    elif c >= 0xE0:
        return float(c - 256), pos
    elif c & 0xE0 == 0xA0:
        kind, n = "str", c & 0x1F
    elif c & 0xF0 == 0x90:
        kind, n = "array", c & 0x0F
    elif c & 0xF0 == 0x80:
        kind, n = "map", c & 0x0F
    else:
        raise _MsgPackError("Bad data format in input.")
    if kind == "str":
        need(n)
        return data[pos:pos + n], pos + n
    t = lua.table()
    if kind == "array":
        for j in range(1, n + 1):
            v, pos = _mp_decode(data, pos, lua)
            t[j] = v
    else:
        for _ in range(n):
            k, pos = _mp_decode(data, pos, lua)
            v, pos = _mp_decode(data, pos, lua)
            if k is not None:
                t[k] = v
    return t, pos


def _cmsgpack(lua):
    encoder = _MsgPackEncoder(lua)

    def pack(*args):
        if not args:
            raise LibError("bad argument #0 to 'pack' (MessagePack pack needs input.)")
        out = bytearray()
        for v in args:
            encoder.value(v, out, 0)
        return bytes(out)

    def unpack_full(fname, data, limit, offset):
        if not isinstance(data, bytes):
            data = _check_string(fname, (data,), 0)
        decode_all = not limit and not offset
        if offset < 0 or limit < 0:
            raise LibError("Invalid request to unpack with offset of %d and limit of %d."
                           % (offset, len(data)))
        if offset > len(data):
            raise LibError("Start offset %d greater than input length %d."
                           % (offset, len(data)))
        if decode_all:
            limit = 2 ** 31 - 1
        pos = offset
        values = []
        try:
            while pos < len(data) and len(values) < limit:
                v, pos = _mp_decode(data, pos, lua)
                values.append(v)
        except _MsgPackError as e:
            raise LibError(str(e)) from None
        if not decode_all:
            values.insert(0, -1 if pos >= len(data) else pos)
        return tuple(values)

    def unpack(*args):
        return unpack_full("unpack", args[0] if args else None, 0, 0)

    def unpack_one(*args):
        offset = int(_check_number("unpack_one", args, 1)) if len(args) > 1 else 0
        return unpack_full("unpack_one", args[0] if args else None, 1, offset)

    def unpack_limit(*args):
        limit = int(_check_number("unpack_limit", args, 1))
        offset = int(_check_number("unpack_limit", args, 2)) if len(args) > 2 else 0
        return unpack_full("unpack_limit", args[0] if args else None, limit, offset)

    return lua.table_from({b"pack": pack, b"unpack": unpack, b"unpack_one": unpack_one,
                           b"unpack_limit": unpack_limit, b"_NAME": b"cmsgpack",
                           b"_VERSION": b"lua-cmsgpack 0.4.0",
                           b"_COPYRIGHT": b"Copyright (C) 2012, Salvatore Sanfilippo",
                           b"_DESCRIPTION": b"MessagePack C implementation for Lua"})
