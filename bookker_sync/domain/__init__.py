"""Pure domain logic: models, rules, recurrence, reconcile. Imports nothing of ours outside."""
