"""Telling Bookker what the sync decided: the per-tenant event log (log.py), the pull
feed (feed.py) and the signed push to Bookker's webhook (push.py, destination.py)."""
