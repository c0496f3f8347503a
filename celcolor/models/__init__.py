"""celcolor.models."""
