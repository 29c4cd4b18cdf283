"""The audit log: every admin action and every change made through the API, readable by admins."""
