"""LLM engines: one shared tool loop (loop.py) and one thin adapter per provider's official SDK."""
