"""The matching kernel: a compiled indicator index and the pure function that scans batches."""
