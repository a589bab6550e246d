"""localvox examples."""
