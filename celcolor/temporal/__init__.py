"""celcolor.temporal."""
