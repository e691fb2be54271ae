"""The admin pages: one blueprint per page group."""
