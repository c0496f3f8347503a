"""celcolor.data."""
