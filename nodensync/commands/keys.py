"""Generic key commands (DEL, EXISTS, EXPIRE family, TTL, SCAN, ...)."""
G = "generic"
