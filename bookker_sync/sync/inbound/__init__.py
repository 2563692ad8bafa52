"""Inbound: Graph webhooks → pokes → one room mailbox synced (lease, delta, reconcile, actions)."""
