"""Language model backends."""
