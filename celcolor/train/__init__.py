"""celcolor.train."""
