"""Modal screens for the localvox TUI."""
