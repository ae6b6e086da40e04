"""Lua scripting (EVAL, functions): the engine; the commands are in
commands/scripting.py."""
