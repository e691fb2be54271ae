"""Admins and viewers: accounts, passwords, sign-in sessions, single sign-on."""
