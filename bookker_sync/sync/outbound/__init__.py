"""Outbound: the Bookker API use cases that write to Outlook.

Bookings, tenants/spaces/users, and release (system actions on room calendars)."""
