"""Network logs: every format a unit keeps, read into batches of one canonical Arrow schema."""
