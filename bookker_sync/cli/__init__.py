"""The operator CLI, ``python -m bookker_sync``: parses arguments and prints; the use
cases it runs live in ``bookker_sync.sync.operator`` and ``bookker_sync.sync.status``."""
