"""Wake word detection."""
