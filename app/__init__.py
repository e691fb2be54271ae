"""Factorial Connect."""
