"""localvox agent."""
