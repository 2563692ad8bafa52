"""Local Functions host fixture (filled in by the foundation work)."""
