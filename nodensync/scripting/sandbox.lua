-- The Lua side of NodeNsync's scripting engine (Redis 7.0's script_lua.c
-- behaviour, written from its observable effects).  Compiled once per
-- Lua state under the chunk name "=nodensync": the error handler skips
-- frames of this chunk, so errors point at the user's line.
--
-- Arguments: a table of Python callbacks.
local py = ...

local type, tostring, tonumber, select, error, pcall, xpcall, next, pairs, ipairs =
      type, tostring, tonumber, select, error, pcall, xpcall, next, pairs, ipairs
local rawget, rawset, rawequal, setmetatable, getmetatable, setfenv, unpack =
      rawget, rawset, rawequal, setmetatable, getmetatable, setfenv, unpack
local loadstring, load = loadstring, load
local sformat, sfind, ssub, sbyte, sgsub, srep = string.format, string.find, string.sub,
      string.byte, string.gsub, string.rep
local tconcat = table.concat
local floor = math.floor
local getinfo = debug.getinfo
local sethook = debug.sethook
local huge = math.huge

-- The scripts' globals: a copy of the state's, without what Redis 7.0 does
-- not expose.  (The state's own _G stays as lupa needs it; user code never
-- sees it: every user function runs with this table as its environment.)
local hidden = {dofile = 1, loadfile = 1, print = 1, require = 1, module = 1, package = 1,
                io = 1, os = 1, debug = 1, setfenv = 1, getfenv = 1, newproxy = 1, python = 1,
                _G = 1}
local G = {}
for k, v in pairs(_G) do
  if not hidden[k] then G[k] = v end
end

-- Read-only tables ------------------------------------------------------------
-- Stock Lua 5.1 has no read-only tables (Redis patches its Lua for that):
-- every protected table is an empty proxy whose metatable reads through to
-- the real table and refuses writes.  rawset/setmetatable/rawget/next/pairs
-- see through proxies.
local real_of = setmetatable({}, {__mode = "k"})
local READONLY = "Attempt to modify a readonly table"
local hidden_mt = {}

local function refuse_write() error(READONLY, 2) end

local proxy_mt = {}
local function protect(t)
  local proxy = {}
  local mt = {__index = t, __newindex = refuse_write, __metatable = hidden_mt}
  setmetatable(proxy, mt)
  real_of[proxy] = t
  proxy_mt[proxy] = mt
  return proxy
end

local function real(t)
  return real_of[t] or t
end

rawset(G, "rawset", function(t, k, v)
  if real_of[t] or t == hidden_mt then error(READONLY, 0) end
  return rawset(t, k, v)
end)
rawset(G, "setmetatable", function(t, mt)
  if real_of[t] or t == hidden_mt then error(READONLY, 0) end
  return setmetatable(t, mt)
end)
rawset(G, "rawget", function(t, k) return rawget(real(t), k) end)
rawset(G, "next", function(t, k) return next(real(t), k) end)
local user_next = rawget(G, "next")
rawset(G, "pairs", function(t)
  if real_of[t] then return user_next, t, nil end
  return pairs(t)
end)
rawset(G, "ipairs", function(t) return ipairs(real(t)) end)
-- (unpack itself, not a wrapper: a Lua frame around it takes stack slots,
-- and Redis's scripts unpack up to 7999 values; the read-only library
-- tables have no array part to unpack, proxied or not)
rawset(G, "unpack", unpack)
hidden_mt = protect(hidden_mt)

-- Pre-compiled bytecode would bypass every check: source only.
local function no_bytecode(s)
  return type(s) == "string" and sbyte(s, 1) == 27
end
local G_proxy
rawset(G, "loadstring", function(s, name)
  if no_bytecode(s) then return nil, "bytecode loading is not allowed" end
  local f, err = loadstring(s, name)
  if f then setfenv(f, G_proxy) end
  return f, err
end)
rawset(G, "load", function(fn, name)
  local first = true
  local f, err = load(function()
    local piece = fn()
    if first and no_bytecode(piece) then piece = nil end
    first = false
    return piece
  end, name)
  if f then setfenv(f, G_proxy) end
  return f, err
end)

-- Deterministic math.random: Redis's redisLrand48, reseeded for every script
-- (scripting/engine.py).
local py_random = py.random
local math_proxy
do
  local m = {}
  for k, v in pairs(math) do m[k] = v end
  local function checkint(v, argn)
    local n = tonumber(v)
    if n == nil then
      error("bad argument #" .. argn .. " to 'random' (number expected, got " ..
            (v == nil and "no value" or type(v)) .. ")", 3)
    end
    if n >= 0 then return floor(n) end
    return -floor(-n)
  end
  m.random = function(...)
    local n = select("#", ...)
    local r = py_random()
    if n == 0 then
      return r
    elseif n == 1 then
      local u = checkint((...), 1)
      if not (1 <= u) then error("bad argument #1 to 'random' (interval is empty)", 2) end
      return floor(r * u) + 1
    elseif n == 2 then
      local a, b = ...
      local l, u = checkint(a, 1), checkint(b, 2)
      if not (l <= u) then error("bad argument #2 to 'random' (interval is empty)", 2) end
      return floor(r * (u - l + 1)) + l
    end
    error("wrong number of arguments", 0)
  end
  m.randomseed = function(seed)
    local n = tonumber(seed)
    if n == nil then
      error("bad argument #1 to 'randomseed' (number expected, got " ..
            (seed == nil and "no value" or type(seed)) .. ")", 2)
    end
    py.srand(n >= 0 and floor(n) or -floor(-n))
  end
  math_proxy = m
end

-- RESP -> Lua ----------------------------------------------------------------
local function resp_error_table(msg)
  -- luaPushErrorBuff: "-CODE msg" keeps the code; trailing CR/LF trimmed.
  msg = sgsub(msg, "[\r\n]+$", "")
  return {err = msg}
end

local parse
parse = function(s, pos)
  local t = ssub(s, pos, pos)
  local e = sfind(s, "\r\n", pos, true)
  local line = ssub(s, pos + 1, e - 1)
  local nxt = e + 2
  if t == "$" then
    local n = tonumber(line)
    if n < 0 then return false, nxt end
    return ssub(s, nxt, nxt + n - 1), nxt + n + 2
  elseif t == ":" then
    return tonumber(line), nxt
  elseif t == "+" then
    return {ok = line}, nxt
  elseif t == "-" then
    return resp_error_table(line), nxt
  elseif t == "*" or t == ">" then
    local n = tonumber(line)
    if n < 0 then return false, nxt end
    local arr = {}
    for i = 1, n do arr[i], nxt = parse(s, nxt) end
    return arr, nxt
  elseif t == "%" then
    local n = tonumber(line)
    local map = {}
    for i = 1, n do
      local k, v
      k, nxt = parse(s, nxt)
      v, nxt = parse(s, nxt)
      map[k] = v
    end
    return {map = map}, nxt
  elseif t == "~" then
    local n = tonumber(line)
    local set = {}
    for i = 1, n do
      local k
      k, nxt = parse(s, nxt)
      set[k] = true
    end
    return {set = set}, nxt
  elseif t == "_" then
    return nil, nxt
  elseif t == "#" then
    return line == "t", nxt
  elseif t == "," then
    local d
    if line == "inf" then d = huge elseif line == "-inf" then d = -huge
    elseif line == "nan" or line == "-nan" then d = 0/0 else d = tonumber(line) end
    return {double = d}, nxt
  elseif t == "(" then
    return {big_number = line}, nxt
  elseif t == "=" then
    local n = tonumber(line)
    local body = ssub(s, nxt, nxt + n - 1)
    return {verbatim_string = {format = ssub(body, 1, 3), string = ssub(body, 5)}}, nxt + n + 2
  elseif t == "|" then
    local n = tonumber(line)
    for i = 1, 2 * n do local _; _, nxt = parse(s, nxt) end
    return parse(s, nxt)
  end
  error("unexpected RESP type " .. t)
end

-- Lua -> RESP ----------------------------------------------------------------
local function crlf_to_spaces(s)
  return (sgsub(s, "[\r\n]", " "))
end

local function to_int(n)
  -- C's (long long) cast of a double, as x86-64 does it (cvttsd2si):
  -- truncation, INT64_MIN for NaN and out-of-range values.
  if n ~= n or n >= 9223372036854775807 or n < -9223372036854775808 then
    return "-9223372036854775808"
  end
  return sformat("%d", n)
end

local function fmt_double(d)
  if d == huge then return "inf" elseif d == -huge then return "-inf" end
  if d ~= d then return "nan" end
  if d == 0 then
    if 1 / d < 0 then return "-0" end
    return "0"
  end
  return sformat("%.17g", d)
end

-- Redis's luaReplyToRedisReply stops a reply nested deeper than the Lua
-- stack allows (a table containing itself...) with this error, where the
-- next element would be: 7995 arrays deep for nested arrays.
local MAX_REPLY_DEPTH = 7995

local function encode(v, resp3, out, bool3, depth)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = "$" .. #v .. "\r\n" .. v .. "\r\n"
  elseif t == "boolean" then
    -- (by the script's RESP version: redis.setresp; a false becomes the
    -- caller's null)
    if bool3 then      -- (addReplyBool: 1 or 0 for a RESP2 caller)
      if resp3 then out[#out + 1] = v and "#t\r\n" or "#f\r\n"
      else out[#out + 1] = v and ":1\r\n" or ":0\r\n" end
    elseif v then
      out[#out + 1] = ":1\r\n"
    else
      out[#out + 1] = resp3 and "_\r\n" or "$-1\r\n"
    end
  elseif t == "number" then
    out[#out + 1] = ":" .. to_int(v) .. "\r\n"
  elseif t == "table" then
    depth = (depth or 0) + 1
    if depth > MAX_REPLY_DEPTH then
      out[#out + 1] = "-ERR reached lua stack limit\r\n"
      return
    end
    local err = rawget(v, "err")
    if type(err) == "string" then
      out[#out + 1] = "-" .. crlf_to_spaces(err) .. "\r\n"
      return
    end
    local ok = rawget(v, "ok")
    if type(ok) == "string" then
      out[#out + 1] = "+" .. crlf_to_spaces(ok) .. "\r\n"
      return
    end
    local d = rawget(v, "double")
    if type(d) == "number" then
      local s = fmt_double(d)
      if resp3 then out[#out + 1] = "," .. s .. "\r\n"
      else out[#out + 1] = "$" .. #s .. "\r\n" .. s .. "\r\n" end
      return
    end
    local big = rawget(v, "big_number")
    if type(big) == "string" then
      big = crlf_to_spaces(big)
      if resp3 then out[#out + 1] = "(" .. big .. "\r\n"
      else out[#out + 1] = "$" .. #big .. "\r\n" .. big .. "\r\n" end
      return
    end
    local vb = rawget(v, "verbatim_string")
    if type(vb) == "table" then
      local fmt, str = rawget(vb, "format"), rawget(vb, "string")
      if type(fmt) == "string" and type(str) == "string" then
        if resp3 then
          out[#out + 1] = "=" .. (#str + 4) .. "\r\n" .. ssub(fmt .. "   ", 1, 3) .. ":" .. str .. "\r\n"
        else
          out[#out + 1] = "$" .. #str .. "\r\n" .. str .. "\r\n"
        end
        return
      end
    end
    local map = rawget(v, "map")
    if type(map) == "table" then
      local slot = #out + 1
      out[slot] = ""
      local n = 0
      for k, val in next, map do
        encode(k, resp3, out, bool3, depth)
        encode(val, resp3, out, bool3, depth)
        n = n + 1
      end
      out[slot] = resp3 and ("%" .. n .. "\r\n") or ("*" .. (2 * n) .. "\r\n")
      return
    end
    local set = rawget(v, "set")
    if type(set) == "table" then
      local slot = #out + 1
      out[slot] = ""
      local n = 0
      for k in next, set do
        encode(k, resp3, out, bool3, depth)
        n = n + 1
      end
      out[slot] = (resp3 and "~" or "*") .. n .. "\r\n"
      return
    end
    local slot = #out + 1
    out[slot] = ""
    local n = 0
    while true do
      local item = rawget(v, n + 1)
      if item == nil then break end
      encode(item, resp3, out, bool3, depth)
      n = n + 1
    end
    out[slot] = "*" .. n .. "\r\n"
  else
    out[#out + 1] = resp3 and "_\r\n" or "$-1\r\n"
  end
end

-- Errors ----------------------------------------------------------------------
-- Python callbacks (redis.call ...) raise their error table wrapped in a
-- Python exception: py.unwrap gives the table back (or an error table for
-- any other exception).
local py_unwrap = py.unwrap

-- Where the error happened: the first frame outside C and this file.
local function where()
  local level = 3
  while true do
    local i = getinfo(level, "Sl")
    if i == nil then return nil end
    if i.what ~= "C" and i.what ~= "tail" and i.source ~= "=nodensync" then return i end
    level = level + 1
  end
end

local function unwrap(e)
  if type(e) == "userdata" then
    local v, positioned = py_unwrap(e)
    if positioned then
      local i = where()
      if i then v = i.short_src .. ":" .. i.currentline .. ": " .. v end
    end
    return v
  end
  return e
end

local function err_handler(e)
  e = unwrap(e)
  local i = where()
  local msg
  if type(e) == "table" then
    msg = rawget(e, "err")
    if msg == nil then
      msg = "ERR unknown error"          -- (redis-server 7.0.15 crashes here)
    else
      msg = tostring(msg)
    end
  else
    msg = "ERR " .. tostring(e)
  end
  return {err = msg, source = i and i.source, line = i and i.currentline,
          counted = type(e) == "table" and rawget(e, "ignore_error_stats_update") == true}
end

-- Redis 7's pcall: an error table is returned as its message.  (The
-- conversion runs where the error is raised, so positions can be found.)
local function pcall_error(e)
  e = unwrap(e)
  if type(e) == "table" then
    local m = rawget(e, "err")
    if type(m) == "string" or type(m) == "number" then e = m end
  end
  return e
end
rawset(G, "pcall", function(f, ...)
  local n = select("#", ...)
  local args = {...}
  return xpcall(function() return f(unpack(args, 1, n)) end, pcall_error)
end)
rawset(G, "xpcall", function(f, h) return xpcall(f, function(e) return h(unwrap(e)) end) end)

-- The redis table ---------------------------------------------------------------
-- luaPushErrorBuff: "-CODE msg" keeps its code, anything else gets ERR.
local function push_error_buff(msg)
  if ssub(msg, 1, 1) == "-" then
    local sp = sfind(msg, " ", 1, true)
    if not sp then
      msg = "ERR " .. ssub(msg, 2)
    else
      msg = ssub(msg, 2)
    end
  else
    msg = "ERR " .. msg
  end
  return {err = (sgsub(msg, "[\r\n]+$", ""))}
end
local function lua_error_reply(msg) return push_error_buff(msg) end

local redis = {}
redis.call = py.call
redis.pcall = py.pcall
redis.error_reply = function(msg)
  if type(msg) ~= "string" then return lua_error_reply("wrong number or type of arguments") end
  if ssub(msg, 1, 1) ~= "-" then msg = "-" .. msg end
  return push_error_buff(msg)
end
redis.status_reply = function(msg)
  if type(msg) ~= "string" then return lua_error_reply("wrong number or type of arguments") end
  return {ok = msg}
end
redis.sha1hex = py.sha1hex
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.log = py.log
redis.setresp = py.setresp
redis.acl_check_cmd = py.acl_check_cmd
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.set_repl = py.set_repl
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REDIS_VERSION = py.version
redis.REDIS_VERSION_NUM = py.version_num
-- (redis.register_function is installed in the functions' own state.)

-- Libraries -------------------------------------------------------------------
rawset(G, "math", math_proxy)
rawset(G, "redis", redis)
for name, lib in pairs(py.libs or {}) do rawset(G, name, lib) end
for _, name in ipairs({"string", "math", "table", "coroutine", "redis", "cjson", "bit",
                       "struct", "cmsgpack"}) do
  local lib = rawget(G, name)
  if lib ~= nil then rawset(G, name, protect(lib)) end
end

-- Globals: reads of a missing name and every write are errors.
setmetatable(G, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end})
G_proxy = protect(G)
rawset(G, "_G", G_proxy)

-- Entry points for Python -----------------------------------------------------
local api = {}

-- Compile a script body: the function, or nil and the message.
api.compile = function(body, chunkname)
  if no_bytecode(body) then return nil, "bytecode loading is not allowed" end
  local f, err = loadstring(body, chunkname)
  if not f then return nil, err end
  setfenv(f, G_proxy)
  return f, false
end

-- A finished run: (true, reply) or (false, err[, source, line]).
-- (ok, reply) or (false, message, source or nil, line or nil, whether the
-- error is in the stats already)
local function outcome(ok, res, resp3)
  if not ok then
    if res.source == nil then return false, res.err, nil, nil, res.counted end
    return false, res.err, tostring(res.source), tostring(res.line), res.counted
  end
  if type(res) == "table" then
    local err = rawget(res, "err")
    if type(err) == "string" then
      return false, crlf_to_spaces(err), nil, nil, rawget(res, "ignore_error_stats_update") == true
    end
  end
  local out = {}
  encode(res, resp3, out, py.script_resp3())
  return true, tconcat(out)
end

-- Every HOOK_COUNT instructions the engine checks busy-reply-threshold
-- and SCRIPT KILL (Redis's luaMaskCountHook).
local HOOK_COUNT = 100000
local py_busy_hook = py.busy_hook
local function busy_hook()
  -- (whether this file's own code is running: once a killed script's hook
  -- fires per line, the error handler and the run's end are left alone)
  local i = getinfo(2, "S")
  py_busy_hook(i ~= nil and i.source == "=nodensync")
end

-- A killed script: the hook fires on every new line from now on and raises
-- the kill error each time, so a pcall that catches it does not keep the
-- script alive (Redis switches its hook to LUA_MASKLINE the same way).
api.kill_hook = function() sethook(busy_hook, "l") end

-- An EVAL script: f() with the KEYS and ARGV globals set.
api.run = function(f, keys, argv, resp3)
  rawset(G, "KEYS", keys)
  rawset(G, "ARGV", argv)
  sethook(busy_hook, "", HOOK_COUNT)
  local ok, res = xpcall(f, err_handler)
  sethook()
  rawset(G, "KEYS", nil)
  rawset(G, "ARGV", nil)
  return outcome(ok, res, resp3)
end

-- A function: f(keys, args).
api.call_fn = function(f, keys, argv, resp3)
  sethook(busy_hook, "", HOOK_COUNT)
  local ok, res = xpcall(function() return f(keys, argv) end, err_handler)
  sethook()
  return outcome(ok, res, resp3)
end

-- Functions ---------------------------------------------------------------------
-- FUNCTION LOAD runs the library's code with only redis.register_function,
-- redis.log, the log levels and the version as globals (the globals table
-- stays the same: its reads go to this table while the code runs, as
-- Redis swaps its globals' __index), collecting what it registers.
local FUNCTION_FLAGS = {["no-writes"] = 1, ["allow-oom"] = 2, ["allow-stale"] = 4,
                        ["no-cluster"] = 8, ["allow-cross-slot-keys"] = 16}
local registered
local function reg_error(msg) error(lua_error_reply(msg)) end
local function check_name(name)
  if type(name) ~= "string" or not sfind(name, "^[%w_]+$") then
    reg_error("Library names can only contain letters, numbers, or underscores(_) and must " ..
              "be at least one character long")
  end
end
local function add_function(name, callback, flags, description)
  check_name(name)
  for _, f in ipairs(registered) do
    if f.name == name then reg_error("Function already exists in the library") end
  end
  registered[#registered + 1] = {name = name, callback = callback, flags = flags,
                                 description = description}
end
local load_redis = {
  register_function = function(...)
    -- (a function that kept a reference to it and calls it later)
    if registered == nil then
      reg_error("redis.register_function can only be called on FUNCTION LOAD command")
    end
    local n = select("#", ...)
    if n == 1 then
      local t = ...
      if type(t) ~= "table" then
        reg_error("calling redis.register_function with a single argument is only applicable " ..
                  "to Lua table (representing named arguments).")
      end
      local name, callback, flags, description = nil, nil, 0, nil
      for k, v in next, real(t) do
        if k == "function_name" then
          if type(v) ~= "string" then reg_error("function_name argument given to " ..
                                                "redis.register_function must be a string") end
          name = v
        elseif k == "callback" then
          if type(v) ~= "function" then reg_error("callback argument given to " ..
                                                  "redis.register_function must be a function") end
          callback = v
        elseif k == "flags" then
          if type(v) ~= "table" then
            reg_error("flags argument to redis.register_function must be a table representing " ..
                      "function flags")
          end
          for _, flag in next, real(v) do
            local bit = type(flag) == "string" and FUNCTION_FLAGS[flag]
            if not bit then reg_error("unknown flag given") end
            if flags % (2 * bit) < bit then flags = flags + bit end
          end
        elseif k == "description" then
          if type(v) ~= "string" and type(v) ~= "number" then
            reg_error("description argument given to redis.register_function must be a string")
          end
          description = tostring(v)
        else
          reg_error("unknown argument given to redis.register_function")
        end
      end
      if name == nil then reg_error("redis.register_function must get a function name argument") end
      if callback == nil then reg_error("redis.register_function must get a callback argument") end
      add_function(name, callback, flags, description)
    elseif n == 2 then
      local name, callback = ...
      if type(name) == "number" then name = tostring(name)   -- (lua_isstring)
      elseif type(name) ~= "string" then
        reg_error("first argument to redis.register_function must be a string")
      end
      if type(callback) ~= "function" then
        reg_error("second argument to redis.register_function must be a function")
      end
      add_function(name, callback, 0, nil)
    else
      reg_error("wrong number of arguments to redis.register_function")
    end
  end,
  log = redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = redis.REDIS_VERSION,
  REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
local load_globals = setmetatable({redis = protect(setmetatable(load_redis, getmetatable(G)))},
                                  getmetatable(G))

-- A library's code only registers functions: past ``timeout_ms`` (500 for
-- FUNCTION LOAD, none when replaying the AOF or a master's stream) its run
-- is stopped, checked every HOOK_COUNT instructions and then on every line
-- so a pcall cannot catch it for good (Redis's luaEngineLoadHook).
local py_mono_ms = py.mono_ms
local load_deadline
local function load_hook()
  -- (never in this file's own code: the line hook would fire on the lines
  -- after the pcall that ends the load)
  local i = getinfo(2, "S")
  if i ~= nil and i.source == "=nodensync" then return end
  if py_mono_ms() > load_deadline then
    sethook(load_hook, "l")
    error(lua_error_reply("FUNCTION LOAD timeout"))
  end
end

-- (nil, message) or (list of {name, callback, flags, description}).
api.load_library = function(code, timeout_ms)
  local f, err = loadstring(code, "@user_function")
  if not f then return nil, "ERR Error compiling function: " .. err end
  setfenv(f, G_proxy)
  registered = {}
  local mt = proxy_mt[G_proxy]
  mt.__index = load_globals
  if timeout_ms and timeout_ms > 0 then
    load_deadline = py_mono_ms() + timeout_ms
    sethook(load_hook, "", HOOK_COUNT)
  end
  local ok, e = pcall(f)
  sethook()
  mt.__index = G
  local result = registered
  registered = nil
  if not ok then
    e = unwrap(e)
    if type(e) == "table" then e = tostring(rawget(e, "err")) else e = "ERR " .. tostring(e) end
    return nil, "ERR Error registering functions: " .. e
  end
  return result, false
end

api.protect = protect
api.G = G
api.G_proxy = G_proxy
api.err_handler = err_handler
api.lua_error_reply = lua_error_reply
api.parse = function(s) return (parse(s, 1)) end
api.sethook = sethook
return api
