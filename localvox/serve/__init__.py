"""localvox serve."""
