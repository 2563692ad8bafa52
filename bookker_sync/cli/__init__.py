"""The operator CLI, ``python -m bookker_sync``: parses arguments and prints; the use
cases it runs live in ``bookker_sync.sync.ops`` (operator_commands, status)."""
