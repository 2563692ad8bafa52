"""Bookker Sync: keeps Bookker bookings and Microsoft Outlook calendars in step."""
