"""Lua scripting (EVAL, EVALSHA, *_RO, SCRIPT; FUNCTION and FCALL) compared
byte for byte with a real redis-server 7.0.15, under RESP2 and RESP3 (the
``diff`` fixture's parameter): conversions both ways, the sandbox, script
flags, error texts, MULTI, ACL from scripts."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pairtools import Pair


@pytest.fixture
def sdiff(diff):
    diff.check("SCRIPT", "FLUSH", compare=False)
    diff.check("FUNCTION", "FLUSH", compare=False)
    yield diff


# Each case: commands run in order on both servers, every reply compared.
CASES = [
    # SORT BY a constant of a set from a script: sorted ALPHA (deterministic)
    [('SADD', 'myset', 'b', 'a', 'c', 'aa', 'z', 'azz'),
     ('EVAL', "return redis.call('sort',KEYS[1],'by','_')", '1', 'myset'),
     ('EVAL', "return redis.call('sort',KEYS[1],'by','_','get','#','get','_:*')", '1', 'myset'),
     ('DEL', 'myset')],
    [('EVAL', 'return 1', '0')],
    [('EVAL', 'return {1,2,nil,3}', '0')],
    [('EVAL', "return {1,true,false,'x',{ok='o'}, {err='e'}, 2.5}", '0')],
    [('EVAL', 'return nil', '0')],
    [('EVAL', 'return', '0')],
    [('EVAL', "return redis.sha1hex('')", '0')],
    [('EVAL', 'return redis.sha1hex()', '0')],
    [('EVAL', 'return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}', '0')],
    [('EVAL', 'return {redis.LOG_DEBUG,redis.LOG_VERBOSE,redis.LOG_NOTICE,redis.LOG_WARNING, redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}', '0')],
    [('EVAL', 'return type(os)', '0')],
    [('EVAL', 'a=1', '0')],
    [('EVAL', 'return a', '0')],
    [('EVAL', "return redis.call('nosuch')", '0')],
    [('EVAL', "return redis.call('get')", '0')],
    [('EVAL', "return redis.pcall('get')", '0')],
    [('EVAL', "error('x')", '0')],
    [('EVAL', "error({err='My Error'})", '0')],
    [('EVAL', "return redis.error_reply('E2 foo')", '0')],
    [('EVAL', "return redis.call('subscribe','x')", '0')],
    [('EVAL', "return redis.call('lpush','x', 1)", '0')],
    [('EVAL_RO', "return redis.call('lpush','x', 1)", '0')],
    [('EVAL', 'syntax error here', '0')],
    [('EVALSHA', 'abcdef', '0')],
    [('EVALSHA', 'ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD', '0')],
    [('EVAL', 'return 1', '-1')],
    [('EVAL', 'return 1', '5', 'a')],
    [('EVAL', 'return 1', 'x')],
    [('EVAL', 'return KEYS', '2', 'a', 'b', 'c')],
    [('EVAL', 'return ARGV', '2', 'a', 'b', 'c')],
    [('EVAL', "return redis.call('incr','x')", '0')],
    [('SET', 'x', 'y'), ('EVAL', "return redis.call('incr','x')", '0')],
    [('EVAL', "return redis.error_reply('x')", '0')],
    [('EVAL', "return redis.error_reply('-x y')", '0')],
    [('EVAL', "return {err='x'}", '0')],
    [('EVAL', "return redis.status_reply('x')", '0')],
    [('EVAL', "local t = redis.pcall('get'); return t['err']", '0')],
    [('EVAL', "\nlocal function f()\n  return redis.call('get')\nend\nreturn f()", '0')],
    [('EVAL', 'error(12)', '0')],
    [('EVAL', 'error()', '0')],
    [('EVAL', 'error({err=5})', '0')],
    [('EVAL', 'return redis.call()', '0')],
    [('EVAL', 'return redis.call({})', '0')],
    [('EVAL', "return redis.call('set','a',{})", '0')],
    [('EVAL', 'return redis.pcall()', '0')],
    [('EVAL', "return redis.call('get', 1.5)", '0')],
    [('EVAL', "redis.call('set','n',1.5) return redis.call('get','n')", '0')],
    [('EVAL', 'return 3.99', '0')],
    [('EVAL', 'return -3.99', '0')],
    [('EVAL', 'string.x = 1', '0')],
    [('EVAL', 'redis.call = nil', '0')],
    [('EVAL', "rawset(_G,'a',1)", '0')],
    [('EVAL', 'setmetatable(_G, {})', '0')],
    [('EVAL', '_G.x = 1', '0')],
    [('EVAL', 'return _G.nosuch', '0')],
    [('EVAL', "return rawget(_G,'nosuch')", '0')],
    [('EVAL', 'redis.setresp(4)', '0')],
    [('EVAL', 'redis.setresp()', '0')],
    [('EVAL', 'redis.set_repl(9)', '0')],
    [('EVAL', 'redis.set_repl()', '0')],
    [('EVAL', 'return redis.replicate_commands()', '0')],
    [('EVAL', "redis.log(redis.LOG_WARNING,'hi')", '0')],
    [('EVAL', "redis.log(9,'hi')", '0')],
    [('EVAL', 'redis.log(1)', '0')],
    [('EVAL', 'return redis.breakpoint()', '0')],
    [('EVAL', "return redis.debug('x')", '0')],
    [('EVAL', "return loadstring('return 5')()", '0')],
    [('EVAL', "return loadstring('x=')", '0')],
    [('EVAL', 'return coroutine.wrap(function() return 7 end)()', '0')],
    [('EVAL', "local f = loadstring('a=1'); f()", '0')],
    [('EVAL', 'return _VERSION', '0')],
    [('EVAL', 'return unpack({1,2})', '0')],
    [('EVAL', "return tonumber('0x10')", '0')],
    [('EVAL', 'return getfenv', '0')],
    [('EVAL', "return {redis.call('ping')}", '0')],
    [('EVAL', "error('MYERR x', 0)", '0')],
    [('EVAL', "error({err='ERR'})", '0')],
    [('EVAL', "error({err=''})", '0')],
    [('EVAL', "error({err='a\nb'})", '0')],
    [('EVAL', "return {ok='a\\r\nb'}", '0')],
    [('EVAL', "return {err='a\\r\nb'}", '0')],
    [('EVAL', 'return redis.status_reply()', '0')],
    [('EVAL', 'return redis.error_reply()', '0')],
    [('EVAL', 'return redis.error_reply(5)', '0')],
    [('EVAL', 'return {double=1.5}', '0')],
    [('EVAL', 'return {map={a=1}}', '0')],
    [('EVAL', 'return {set={a=true}}', '0')],
    [('EVAL', "return {big_number='123'}", '0')],
    [('EVAL', "return {verbatim_string={format='txt',string='abc'}}", '0')],
    [('EVAL', 'return true', '0')],
    [('EVAL', 'return false', '0')],
    [('EVAL', 'return {1,{2,{3}}}', '0')],
    [('EVAL', 'return 1e20', '0')],
    [('EVAL', 'return 0/0', '0')],
    [('EVAL', 'return {a=1}', '0')],
    [('EVAL', "return redis.call('set','x','y')", '0')],
    [('EVAL', "redis.call('set','x','y') return redis.pcall('incr','x')", '0')],
    [('EVAL', "return redis.pcall('nosuch')", '0')],
    [('EVAL', "return redis.pcall('get', {})", '0')],
    [('EVAL', "local t = redis.pcall('incr','x') return {type(t), t.err}", '0')],
    [('EVAL', "redis.call('hset', 'h', 'a', 1) return redis.call('hgetall', 'h')", '0')],
    [('EVAL', "redis.call('hset', 'h', 'a', 1) return redis.call('type', 'h')", '0')],
    [('EVAL', "return {redis.call('zadd','z', 1.5,'m'), redis.call('zscore','z','m')}", '0')],
    [('EVAL', "redis.setresp(3) redis.call('zadd','z', 1.5,'m') return redis.call('zscore','z','m')", '0')],
    [('EVAL', "redis.setresp(3) redis.call('hset', 'h', 'a', 1) return redis.call('hgetall', 'h')", '0')],
    [('EVAL', "redis.setresp(3) redis.call('sadd', 's', 'a') return redis.call('smembers', 's')", '0')],
    [('EVAL', "redis.setresp(3) return redis.call('get', 'nokey')", '0')],
    [('EVAL', "redis.setresp(3) return {redis.call('get', 'nokey')}", '0')],
    [('EVAL', "redis.setresp(3) local t = redis.call('zscore','nokey','m') return type(t)", '0')],
    [('EVAL', "redis.setresp(3) redis.call('zadd','z', 1.5,'m') return redis.call('zrange','z', 0, -1, 'withscores')", '0')],
    [('EVAL', "redis.setresp(3) return redis.call('hello')", '0')],
    [('EVAL', '#!lua\nreturn 1', '0')],
    [('EVAL', "#!lua\nerror('x')", '0')],
    [('EVAL', "#!lua flags=no-writes\nreturn redis.call('set','a','b')", '0')],
    [('EVAL', '#!lua flags=no-writes,allow-oom\nreturn 2', '0')],
    [('EVAL', '#!lua flags=\nreturn 2', '0')],
    [('EVAL', '#!lua flags=bad\nreturn 2', '0')],
    [('EVAL', '#!lua name=foo\nreturn 2', '0')],
    [('EVAL', '#!luajit\nreturn 2', '0')],
    [('EVAL', '#!lua', '0')],
    [('EVAL', '#! lua\nreturn 1', '0')],
    [('EVAL_RO', '#!lua\nreturn 1', '0')],
    [('EVAL_RO', '#!lua flags=no-writes\nreturn 1', '0')],
    [('EVAL', "return redis.call('select', 1)", '0')],
    [('EVAL', "redis.call('select', 1) redis.call('set','a','1') return 1", '0'), ('GET', 'a'), ('SELECT', '1'), ('GET', 'a')],
    [('EVAL', "return redis.call('blpop', 'l', 0)", '0')],
    [('EVAL', "redis.call('rpush','l','a') return redis.call('blpop', 'l', 0)", '0')],
    [('EVAL', "return redis.call('exec')", '0')],
    [('MULTI',), ('EVAL', "return redis.call('set','a','b')", '0'), ('EXEC',)],
    [('SCRIPT', 'LOAD', 'return 1'), ('EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'), ('SCRIPT', 'EXISTS', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 'nope'), ('SCRIPT', 'FLUSH'), ('SCRIPT', 'EXISTS', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db')],
    [('SCRIPT', 'LOAD', 'return +')],
    [('SCRIPT', 'FLUSH', 'ASYNC')],
    [('SCRIPT', 'FLUSH', 'x')],
    [('SCRIPT', 'FLUSH', 'SYNC', 'ASYNC')],
    [('SCRIPT', 'KILL')],
    [('SCRIPT', 'HELP')],
    [('SCRIPT', 'nope')],
    [('SCRIPT',)],
    [('EVAL', "return string.format('%5.2f', 3.14159)", '0')],
    [('EVAL', 'return tostring(1e15)', '0')],
    [('EVAL', 'return tostring(0.1)', '0')],
    [('EVAL', 'return {math.huge}', '0')],
    [('EVAL', 'return #KEYS', '3', 'a', 'b', 'c')],
    [('EVAL', "return redis.call('exists', unpack(KEYS))", '3', 'a', 'b', 'c')],
    [('EVAL', "return table.concat({'a','b'}, ',')", '0')],
    [('EVAL', 'local t = {} for k in pairs(redis) do t[#t+1]=k end return #t > 5', '0')],
    [('EVAL', 'for k,v in pairs(_G) do end return 1', '0')],
    [('EVAL', 'return rawequal(_G, _G)', '0')],
    [('EVAL', 'return type(_G.redis)', '0')],
    [('EVAL', "return pcall(function() error('x') end)", '0')],
    [('EVAL', "local ok, e = pcall(function() error('x') end) return e", '0')],
    [('EVAL', "local ok, e = pcall(function() redis.call('nosuch') end) return e", '0')],
    [('EVAL', 'local ok, e = pcall(function() local x = nil; return x.y end) return e', '0')],
    [('EVAL', 'local x = nil; return x.y', '0')],
    [('EVAL', 'return nil + 1', '0')],
    [('EVAL', "return string.rep('x', -1)", '0')],
]


FUNCTION_CASES = [
    # the metadata line is split as sdssplitargs splits it
    [('FUNCTION', 'LOAD', "#!lua name=\"foo\"\nredis.register_function('foo', function() return 1 end)"),
     ('FUNCTION', 'LOAD', "#!lua NAME='bar' \nredis.register_function('bar', function() return 1 end)"),
     ('FUNCTION', 'LOAD', "#!lua name=\"baz\nredis.register_function('baz', function() return 1 end)"),
     ('FUNCTION', 'LOAD', "#!lua name=\"a b\"\nredis.register_function('ab', function() return 1 end)"),
     ('FCALL', 'foo', '0'), ('FCALL', 'bar', '0'), ('FUNCTION', 'DELETE', 'foo'), ('FUNCTION', 'LIST')],
    [('FUNCTION', 'LOAD', "#!lua name=lib2\nredis.register_function(nil, function() return 1 end)")],
    [('FUNCTION', 'LOAD', "#!lua name=lib2\nredis.register_function(7, function() return 1 end)")],
    # register_function kept by a function and called after the load
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nlocal lib = redis\nlib.register_function('f2', function() lib.register_function('f1', function() return 1 end) end)"),
     ('FCALL', 'f2', '0')],
    # A library's load gets 500 ms: an endless loop is stopped and the
    # server goes on serving.
    [('FUNCTION', 'LOAD', '#!lua name=lib\nlocal a = 1\nwhile 1 do a = a + 1 end'),
     ('FUNCTION', 'LOAD', "#!lua name=lib\nredis.register_function('f', function() return 1 end)"),
     ('FCALL', 'f', '0'), ('FUNCTION', 'LIST')],
    # Function names are case-insensitive (Redis's functions.tcl "test
    # function case insensitive"); two libraries' names differing only by
    # case collide.
    [('FUNCTION', 'LOAD', "#!lua name=ci\nredis.register_function('test', function() return 'hello1' end)"),
     ('FCALL', 'TEST', '0'), ('FCALL', 'Test', '0'), ('FCALL_RO', 'tEsT', '0'),
     ('FUNCTION', 'LOAD', "#!lua name=ci2\nredis.register_function('TEST', function() return 2 end)")],
    # (Not compared: one library registering 'a' and 'A'.  Redis 7.0.15 takes
    # it, and crashes on its FUNCTION DELETE; NodeNsync keeps both names.)
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return {keys[1], args[1]} end)"), ('FCALL', 'f1', '1', 'k', 'a'), ('FCALL', 'f1', '0'), ('FCALL_RO', 'f1', '0'), ('FCALL', 'nope', '0'), ('FCALL', 'f1', '-1'), ('FCALL', 'f1', '3', 'a'), ('FCALL', 'f1', 'x'), ('FUNCTION', 'LIST'), ('FUNCTION', 'LIST', 'WITHCODE'), ('FUNCTION', 'LIST', 'LIBRARYNAME', 'li*'), ('FUNCTION', 'LIST', 'LIBRARYNAME', 'x*'), ('FUNCTION', 'LIST', 'LIBRARYNAME'), ('FUNCTION', 'LIST', 'foo'), ('FUNCTION', 'LIST', 'WITHCODE', 'WITHCODE'), ('FUNCTION', 'STATS'), ('FUNCTION', 'KILL'), ('FUNCTION', 'DELETE', 'nope'), ('FUNCTION', 'DELETE', 'lib1'), ('FUNCTION', 'LIST'), ('FUNCTION', 'STATS')],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function{function_name='f2', callback=function() return redis.call('set','a','b') end, flags={'no-writes', 'allow-oom'}, description='my desc'}"), ('FCALL', 'f2', '0'), ('FCALL_RO', 'f2', '0'), ('FUNCTION', 'LIST')],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f3', function() error('boom') end)"), ('FCALL', 'f3', '0')],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f3', function() return redis.call('nosuch') end)"), ('FCALL', 'f3', '0')],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nlocal function helper(k) return redis.call('incr', k) end\nredis.register_function('f', function(keys) return helper(keys[1]) end)"), ('FCALL', 'f', '1', 'x'), ('FCALL', 'f', '1', 'x'), ('GET', 'x')],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f', function(keys, args) return #keys + #args end)"), ('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f', function() return 2 end)"), ('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=lib1\nredis.register_function('g', function() return 3 end)"), ('FCALL', 'f', '0'), ('FCALL', 'g', '0'), ('FUNCTION', 'LOAD', "#!lua name=lib2\nredis.register_function('g', function() return 4 end)"), ('FUNCTION', 'LOAD', 'REPLACE', 'REPLACE', "#!lua name=lib1\nredis.register_function('g', function() return 5 end)"), ('FCALL', 'g', '0'), ('FUNCTION', 'LOAD', 'x', "#!lua name=lib1\nredis.register_function('g', function() return 5 end)")],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f', function() return redis.setresp(3) end)"), ('FCALL', 'f', '0')],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f', function() return {1, 2, {ok='x'}, {double=1.5}} end)"), ('FCALL', 'f', '0')],
    [('FUNCTION', 'FLUSH', 'x')],
    [('FUNCTION', 'FLUSH', 'async')],
    [('FUNCTION', 'FLUSH', 'sync', 'async')],
    [('FUNCTION', 'RESTORE', 'garbage')],
    [('FUNCTION', 'RESTORE', 'x', 'BAD')],
    [('FUNCTION', 'RESTORE', 'x', 'FLUSH', 'x')],
    [('FUNCTION', 'HELP')],
    [('FUNCTION', 'nope')],
    [('FUNCTION',)],
    [('FUNCTION', 'DUMP')],
    [('FUNCTION', 'LOAD')],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f', function() return 1 end)"), ('FUNCTION', 'LOAD', '#!luax name=lib1\nx'), ('FUNCTION', 'LOAD', '#!lua name=lib1\nx ='), ('FUNCTION', 'LOAD', '#!lua name=a-b\nx =')],
    [('MULTI',), ('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f', function() return redis.call('set', 'k', 'v') end)"), ('FCALL', 'f', '0'), ('EXEC',), ('GET', 'k')],
    [('EVAL', "return redis.call('function', 'list')", '0')],
    [('EVAL', "return redis.call('fcall', 'f', 0)", '0')],
    [('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f', function() return redis.call('eval', 'return 1', 0) end)"), ('FCALL', 'f', '0')],
]


# cjson, bit, struct and cmsgpack.
LIBRARY_CASES = [
    # cjson.encode_invalid_numbers: off, on ("nan", "inf") or "null"
    # (Redis's scripting.tcl "JSON smoke test")
    [('EVAL', "cjson.encode_invalid_numbers(true) local ok, e = pcall(cjson.encode, {num1=0/0, i=1/0, m=-1/0}) cjson.encode_invalid_numbers(false) return {tostring(ok), tostring(e)}", '0')],
    [('EVAL', "local r = cjson.encode_invalid_numbers('null') local e = cjson.encode({0/0}) cjson.encode_invalid_numbers(false) return {tostring(r), e}", '0')],
    [('EVAL', "return {tostring(cjson.encode_invalid_numbers()), tostring(cjson.encode_invalid_numbers(true)), tostring(cjson.encode_invalid_numbers('off'))}", '0')],
    [('EVAL', "return pcall(cjson.encode, {0/0})", '0')],
    [('EVAL', 'return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)', '0')],
    [('EVAL', 'return cmsgpack.pack(1.5, 0.1, 1e20, -1e300, 1/0)', '0')],
    [('EVAL', "return cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('x', 32), string.rep('y', 256), string.rep('z', 70000))", '0')],
    [('EVAL', 'return cmsgpack.pack({1,2,3}, {a=1}, {}, true, false, nil)', '0')],
    [('EVAL', 'return cmsgpack.pack({1,2,nil,4})', '0')],
    [('EVAL', 'return cmsgpack.pack({[1]=1, [3]=3})', '0')],
    [('EVAL', 'local t = {} for i=1,20 do t[i] = i end return cmsgpack.pack(t)', '0')],
    [('EVAL', 'local t = {} t.t = t return cmsgpack.pack(t)', '0')],
    [('EVAL', 'return cmsgpack.pack()', '0')],
    [('EVAL', "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, {x='y'}, true, 1.5))}", '0')],
    [('EVAL', "local a, b = cmsgpack.unpack(cmsgpack.pack({1,2}, {x='y'})) return {a[2], b.x}", '0')],
    [('EVAL', "return {cmsgpack.unpack('\\145')}", '0')],
    [('EVAL', "return {cmsgpack.unpack('\\193')}", '0')],
    [('EVAL', 'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}', '0')],
    [('EVAL', 'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}', '0')],
    [('EVAL', 'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}', '0')],
    [('EVAL', 'return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}', '0')],
    [('EVAL', 'return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}', '0')],
    [('EVAL', 'return {cmsgpack.unpack_one(cmsgpack.pack(1), 5)}', '0')],
    [('EVAL', "return {cmsgpack.unpack('\\207\\0\\0\\0\\1\\0\\0\\0\\0', '\\202\\63\\192\\0\\0')}", '0')],
    [('EVAL', "return {cmsgpack.unpack('\\202\\63\\192\\0\\0')}", '0')],
    [('EVAL', 'return cmsgpack._VERSION', '0')],
    [('EVAL', 'return cmsgpack.pack(0/0, 1/0, -1/0, 1e300, 3.4e38, 2^24+1, 0.5, -0.0)', '0')],
    [('EVAL', "return struct.pack('>I2', 258)", '0')],
    [('EVAL', "return struct.pack('<i', -2)", '0')],
    [('EVAL', "return struct.pack('bBhHlLT', -1, 255, -2, 65535, -3, 7, 9)", '0')],
    [('EVAL', "return struct.pack('!4 b i', 1, 2)", '0')],
    [('EVAL', "return struct.pack('c3', 'abcdef')", '0')],
    [('EVAL', "return struct.pack('c0', 'abcdef')", '0')],
    [('EVAL', "return struct.pack('s', 'ab')", '0')],
    [('EVAL', "return struct.pack('c5', 'ab')", '0')],
    [('EVAL', "return struct.pack('>d', 1.5)", '0')],
    [('EVAL', "return struct.pack('<f', 0.25)", '0')],
    [('EVAL', "return struct.pack('z', 1)", '0')],
    [('EVAL', "return struct.pack('i')", '0')],
    [('EVAL', "return struct.pack('i40', 1)", '0')],
    [('EVAL', "return struct.pack('!3i', 1)", '0')],
    [('EVAL', "return {struct.unpack('>I2', '\\1\\2')}", '0')],
    [('EVAL', "return {struct.unpack('<i', struct.pack('<i', -5))}", '0')],
    [('EVAL', "return {struct.unpack('bB', '\\255\\255')}", '0')],
    [('EVAL', "return {struct.unpack('s', 'ab\\0cd')}", '0')],
    [('EVAL', "return {struct.unpack('s', 'abcd')}", '0')],
    [('EVAL', "return {struct.unpack('B c0', '\\3abcdef')}", '0')],
    [('EVAL', "return {struct.unpack('c0', 'abc')}", '0')],
    [('EVAL', "return {struct.unpack('i', 'ab')}", '0')],
    [('EVAL', "return {struct.unpack('c2', 'abcdef', 3)}", '0')],
    [('EVAL', "return {struct.unpack('c2', 'abcdef', 0)}", '0')],
    [('EVAL', "return {tostring(struct.unpack('>d', struct.pack('>d', 1.5)))}", '0')],
    [('EVAL', "return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}", '0')],
    [('EVAL', "return {struct.size('i'), struct.size('!8 b d'), struct.size('c10 h')}", '0')],
    [('EVAL', "return struct.size('s')", '0')],
    [('EVAL', "return struct.size('c0')", '0')],
    [('EVAL', 'return struct.size()', '0')],
    [('EVAL', 'return type(struct.nosuch)', '0')],
    [('EVAL', 'return {type(struct), type(cmsgpack), type(cjson), type(bit)}', '0')],
    [('EVAL', 'return cjson.encode({})', '0')],
    [('EVAL', 'return cjson.encode({1,2,3})', '0')],
    [('EVAL', 'return cjson.encode({a=1})', '0')],
    [('EVAL', "return cjson.encode({a={b={c=1}}, x='y'})", '0')],
    [('EVAL', 'return cjson.encode({1.5, 0.1, 1e20, -3, 123456789012345678, 3.14159265358979})', '0')],
    [('EVAL', 'return cjson.encode(\'a"b\\\\c/d\\n\\t\\1\\127é\')', '0')],
    [('EVAL', 'return cjson.encode({cjson.null, true, false})', '0')],
    [('EVAL', 'return cjson.encode({[1]=1, [3]=3})', '0')],
    [('EVAL', 'return cjson.encode({[1]=1, [30]=3})', '0')],
    [('EVAL', 'return cjson.encode({[1]=1, a=2})', '0')],
    [('EVAL', 'return cjson.encode({[1.5]=1})', '0')],
    [('EVAL', 'return cjson.encode(function() end)', '0')],
    [('EVAL', 'return cjson.encode(0/0)', '0')],
    [('EVAL', 'return cjson.encode(1/0)', '0')],
    [('EVAL', 'return cjson.encode()', '0')],
    [('EVAL', 'return cjson.encode(nil)', '0')],
    [('EVAL', 'return cjson.encode({{{{}}}})', '0')],
    [('EVAL', 'local t = cjson.decode(\'{"a":[1,2,{"b":null}],"c":"x\\\\u00e9y","d":1.5,"e":true}\') return {t.a[1], t.a[2], t.a[3].b == cjson.null, t.c, tostring(t.d), t.e}', '0')],
    [('EVAL', "return cjson.decode('[1,2,3]')", '0')],
    [('EVAL', 'return cjson.decode(\'"str"\')', '0')],
    [('EVAL', "return cjson.decode('12345678901234567890')", '0')],
    [('EVAL', "return tostring(cjson.decode('0.1'))", '0')],
    [('EVAL', "return cjson.decode('')", '0')],
    [('EVAL', 'return cjson.decode()', '0')],
    [('EVAL', 'return cjson.decode(5)', '0')],
    [('EVAL', 'return cjson.encode(cjson.decode(\'{"a":{"b":[1,2,3]}}\'))', '0')],
    [('EVAL', 'return type(cjson.null)', '0')],
    [('EVAL', 'return bit.tobit(0xffffffff)', '0')],
    [('EVAL', 'return bit.tobit(2^32+5)', '0')],
    [('EVAL', 'return bit.tobit(1.5)', '0')],
    [('EVAL', 'return bit.tobit(2.5)', '0')],
    [('EVAL', 'return bit.tobit(-1.5)', '0')],
    [('EVAL', 'return bit.tohex(65535)', '0')],
    [('EVAL', 'return bit.tohex(-1, -4)', '0')],
    [('EVAL', 'return bit.tohex(255, 2)', '0')],
    [('EVAL', 'return bit.tohex(255, 12)', '0')],
    [('EVAL', 'return bit.bnot(0)', '0')],
    [('EVAL', 'return {bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4), bit.bxor(7, 2)}', '0')],
    [('EVAL', 'return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 12), bit.ror(0x12345678, 12), bit.bswap(0x12345678)}', '0')],
    [('EVAL', 'return {bit.lshift(1, 33), bit.rshift(1, -1)}', '0')],
    [('EVAL', 'return bit.band()', '0')],
    [('EVAL', "return bit.band('a')", '0')],
    [('EVAL', "return bit.band('3', '5')", '0')],
]


@pytest.mark.parametrize("case", CASES, ids=[repr(c[0])[:60] for c in CASES])
def test_eval_case(sdiff, case):
    sdiff.run(case)


@pytest.mark.parametrize("case", LIBRARY_CASES, ids=[repr(c[0])[:60] for c in LIBRARY_CASES])
def test_library_case(sdiff, case):
    sdiff.run(case)


@pytest.mark.parametrize("case", FUNCTION_CASES, ids=[repr(c[0])[:60] for c in FUNCTION_CASES])
def test_function_case(sdiff, case):
    sdiff.run(case)


_LIB = ("#!lua name=%s\nredis.register_function('%s', function(keys, args) "
        "return redis.call('set', keys[1], args[1]) end)\n"
        "redis.register_function{function_name='%s_ro', callback=function(keys) "
        "return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}")


def test_function_dump_restore_between_servers(sdiff):
    """A FUNCTION DUMP payload of either server restores on the other."""
    node, ref = sdiff.node, sdiff.ref
    assert ref.call("FUNCTION", "LOAD", _LIB % ("alib", "aset", "aset")) == b"alib"
    assert node.call("FUNCTION", "LOAD", _LIB % ("blib", "bset", "bset")) == b"blib"
    from_ref = ref.call("FUNCTION", "DUMP")
    from_node = node.call("FUNCTION", "DUMP")
    assert node.call_raw("FUNCTION", "RESTORE", from_ref) == b"+OK\r\n"
    assert ref.call_raw("FUNCTION", "RESTORE", from_node) == b"+OK\r\n"
    sdiff.check("FUNCTION", "LIST", "WITHCODE", unordered=True)
    sdiff.check("FCALL", "aset", "1", "k", "v")
    sdiff.check("FCALL_RO", "bset_ro", "1", "k")
    # the restore policies, on payloads of both origins
    for payload in (from_ref, from_node):
        sdiff.check("FUNCTION", "RESTORE", payload)               # APPEND: collision
        sdiff.check("FUNCTION", "RESTORE", payload, "REPLACE")
        sdiff.check("FUNCTION", "RESTORE", payload, "FLUSH")
        sdiff.check("FUNCTION", "LIST", unordered=True)
        sdiff.check("FUNCTION", "RESTORE", payload[:-1] + b"x")    # bad checksum
    sdiff.check("FUNCTION", "FLUSH")
    sdiff.check("FUNCTION", "RESTORE", ref.call("FUNCTION", "DUMP"))   # empty payload
    sdiff.check("FUNCTION", "LIST")


def test_scripts_run_with_the_callers_acl(sdiff):
    for c in (sdiff.node, sdiff.ref):
        c.call("ACL", "SETUSER", "scripter", "on", "nopass", "~k*", "&chan", "+@all",
               "-del", "-flushall")
    try:
        sdiff.check("AUTH", "scripter", "x")
        sdiff.check("EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k1")
        sdiff.check("EVAL", "return redis.call('set', 'other', 'v')", "0")
        sdiff.check("EVAL", "return redis.pcall('del', 'k1')", "0")
        sdiff.check("EVAL", "return redis.call('publish', 'nochan', 'm')", "0")
        sdiff.check("EVAL", "return redis.call('publish', 'chan', 'm')", "0")
        sdiff.check("EVAL", "return redis.call('get', 'k1')", "0")
        sdiff.check("AUTH", "default", "x", compare=False)
    finally:
        for c in (sdiff.node, sdiff.ref):
            c.call("AUTH", "default", "")
            c.call("ACL", "DELUSER", "scripter")


def test_multi_exec_with_scripts(sdiff):
    sdiff.run([("MULTI",), ("EVAL", "return redis.call('incr', KEYS[1])", "1", "n"),
               ("EVAL", "return redis.call('nosuch')", "0"),
               ("EVAL", "return {redis.call('incr', KEYS[1]), redis.call('get', KEYS[1])}",
                "1", "n"),
               ("EXEC",), ("GET", "n")])
    sdiff.run([("MULTI",), ("EVAL", "return 1", "-1"), ("EXEC",)])
    sdiff.run([("MULTI",), ("EVALSHA", "0" * 40, "0"), ("EXEC",)])


def test_first_random_draws_of_a_fresh_server(server_factory, redis_factory):
    """math.random: Redis's redisLrand48, from its fixed initial state."""
    from servers import RawClient
    a, b = RawClient(server_factory().port), RawClient(redis_factory().port)
    try:
        for _ in range(3):
            body = "return {math.random(10), math.random(1, 1000000), tostring(math.random())}"
            assert a.call_raw("EVAL", body, "0") == b.call_raw("EVAL", body, "0")
        body = "math.randomseed(42) return {math.random(100), math.random(100)}"
        assert a.call_raw("EVAL", body, "0") == b.call_raw("EVAL", body, "0")
    finally:
        a.close()
        b.close()


# -- Lua values built from a grammar, returned by both servers --------------------------
_scalar = st.one_of(
    st.integers(-2 ** 53, 2 ** 53).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: "%r" % f),
    st.sampled_from(["true", "false", "nil", "'x'", "''", "'a b'", "{ok='fine'}",
                     "{err='E bad'}", "redis.error_reply('boom')", "{double=2.5}",
                     "{map={a=1}}", "{set={x=true}}", "{big_number='12345678901234567890'}",
                     "{verbatim_string={format='txt', string='v'}}", "{}",
                     "redis.call('ping')", "redis.call('get', 'nokey')",
                     "redis.pcall('incr', 'str')"]))
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=4).map(
    lambda items: "{" + ", ".join(items) + "}"), max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=_value, resp3=st.booleans())
def test_random_return_values(sdiff, value, resp3):
    prefix = "redis.setresp(3) " if resp3 else ""
    sdiff.check("SET", "str", "abc")
    sdiff.check("EVAL", prefix + "return " + value, "0")


def _counters(client, section):
    text = client.call("INFO", section).decode()
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = ",".join(p for p in v.split(",") if not p.startswith("usec"))
    return out


def test_stats_of_scripts(sdiff):
    """commandstats (EVAL and the commands it ran) and errorstats as Redis
    counts them: a command's error that becomes the script's error once."""
    for c in (sdiff.node, sdiff.ref):
        c.call("SET", "str", "abc")
        c.call("CONFIG", "RESETSTAT")
    sdiff.run([("EVAL", "return redis.call('incr', 'str')", "0"),
               ("EVAL", "return redis.pcall('incr', 'str')", "0"),
               ("EVAL", "error('x')", "0"),
               ("EVAL", "return redis.call('nosuch')", "0"),
               ("EVAL", "return redis.call('get', 'str')", "0"),
               # an error swallowed by pcall is counted where it happened
               ("EVAL", "redis.pcall('incr', 'str') return 1", "0"),
               # refusals: the command's rejected call, in errorstats once
               ("EVAL", "return redis.pcall('get')", "0"),
               ("EVAL", "return redis.call('get')", "0"),
               ("EVAL", "return redis.error_reply('MY err')", "0"),
               ("EVAL", "return {err='X y'}", "0")])
    sdiff.check("CONFIG", "SET", "maxmemory", "1")
    try:
        sdiff.run([("EVAL", "return redis.call('set','x','y')", "1", "x"),
                   ("EVAL", "local t = redis.pcall('set','x','y') return t['err']", "1", "x"),
                   ("EVAL", "return redis.pcall('set','x','y')", "1", "x")])
    finally:
        sdiff.check("CONFIG", "SET", "maxmemory", "0")
    assert _counters(sdiff.node, "errorstats") == _counters(sdiff.ref, "errorstats")
    ours, theirs = _counters(sdiff.node, "commandstats"), _counters(sdiff.ref, "commandstats")
    for name in ("cmdstat_eval", "cmdstat_incr", "cmdstat_get", "cmdstat_set"):
        assert ours[name] == theirs[name], name
    assert (_counters(sdiff.node, "stats")["total_error_replies"]
            == _counters(sdiff.ref, "stats")["total_error_replies"])


def test_reply_nested_deeper_than_the_lua_stack(node_server, redis_server):
    """A table that contains itself: Redis replies with nested arrays down
    to its Lua stack limit, the error in place of the next element (Redis's
    scripting.tcl "Script return recursive object"), and the connection
    goes on.  (Read raw: hiredis parses 7 levels at most.)"""
    import socket
    body = b"local a = {}; local b = {a}; a[1] = b; return a"
    got = []
    for port in (node_server.port, redis_server.port):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.sendall(b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(body), body))
            data = b""
            while not data.endswith(b"stack limit\r\n"):
                chunk = s.recv(1 << 20)
                assert chunk, data[-200:]
                data += chunk
            s.sendall(b"PING\r\n")
            got.append((data, s.recv(100)))
        finally:
            s.close()
    assert got[0] == got[1]
    assert got[0][1] == b"+PONG\r\n"


def test_acl_check_cmd(node_server, redis_server):
    """redis.acl_check_cmd: whether the script's user may run a command on
    given keys, and its errors (Redis's scripting.tcl "Script ACL check")."""
    import redis as redispy
    scripts = [("return redis.acl_check_cmd('set','xx',1)", ["xx"]),
               ("return redis.acl_check_cmd('get','xx')", ["xx"]),
               ("return redis.acl_check_cmd('set','yy',1)", ["xx"]),
               ("return redis.acl_check_cmd('nosuch')", []),
               ("return redis.acl_check_cmd()", []),
               ("return redis.acl_check_cmd('config','get','x')", []),
               ("return redis.acl_check_cmd('config','nosub')", [])]
    got = []
    for port in (node_server.port, redis_server.port):
        admin = redispy.Redis(host="127.0.0.1", port=port)
        admin.execute_command("ACL", "SETUSER", "bob", "on", ">123", "~x*", "+@all", "-get")
        bob = redispy.Redis(host="127.0.0.1", port=port, username="bob", password="123")
        out = []
        try:
            for body, keys in scripts:
                try:
                    out.append(bob.eval(body, len(keys), *keys))
                except redispy.ResponseError as e:
                    out.append(str(e))
        finally:
            bob.close()
            admin.execute_command("ACL", "DELUSER", "bob")
            admin.close()
        got.append(out)
    assert got[0] == got[1]
    assert got[0][:3] == [1, None, None]


def test_script_flags_decide_oom_and_readonly_refusals(sdiff):
    """EVAL/FCALL are refused before they run by the flags their script
    declares (Redis's getCommandFlags): without no-writes/allow-oom a script
    is denyoom and a write; on a read-only replica or past maxmemory it gets
    the command-level error, a no-writes script runs."""
    sdiff.check("FUNCTION", "LOAD", "#!lua name=t\n"
                "redis.register_function{function_name='f1', callback=function() return 'hi' end,"
                " flags={'no-writes'}}\n"
                "redis.register_function{function_name='f2', callback=function() return 'hi' end}\n"
                "redis.register_function{function_name='f3', callback=function() return 'hi' end,"
                " flags={'allow-oom'}}")
    calls = [("FCALL", "f1", "0"), ("FCALL", "f2", "0"), ("FCALL_RO", "f2", "0"), ("FCALL", "f3", "0"),
             ("EVAL", "#!lua flags=no-writes\nreturn 1", "0"), ("EVAL", "#!lua\nreturn 1", "0"),
             ("EVAL", "return 1", "0")]
    try:
        sdiff.check("CONFIG", "SET", "maxmemory", "1")
        sdiff.run(calls)
    finally:
        sdiff.check("CONFIG", "SET", "maxmemory", "0")
    try:
        # a replica of a loopback port nobody listens on: read-only, no data
        sdiff.check("REPLICAOF", "127.0.0.1", "1", compare=False)
        sdiff.run(calls)
    finally:
        sdiff.check("REPLICAOF", "NO", "ONE", compare=False)
