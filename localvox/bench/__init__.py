"""localvox bench."""
