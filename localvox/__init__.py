"""localvox: a hands-free, offline-first voice assistant for the terminal."""

__version__ = "0.1.0"
