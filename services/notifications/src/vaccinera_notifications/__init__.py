"""Vaccinera notifications service: SMS confirmations, reminders and their delivery status (NT-1..NT-4)."""
