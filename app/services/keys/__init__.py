"""Factorial API keys: add, verify, rotate, delete."""
