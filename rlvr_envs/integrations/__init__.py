"""Adapters to other training libraries (each imports only what it needs, when it is used)."""
