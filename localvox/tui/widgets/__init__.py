"""Widgets for the localvox TUI."""
