"""Use cases: outbound writes, mailbox sync, lifecycle, reconcile. Orchestrate domain,
graph and storage; know nothing of HTTP or queue triggers."""
