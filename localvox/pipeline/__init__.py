"""localvox pipeline."""
