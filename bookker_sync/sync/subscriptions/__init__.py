"""Subscriptions: ensure, renew, lifecycle notifications and the reconcile timer."""
