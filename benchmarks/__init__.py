"""Benchmarks of the book's run and of the numerical gradient: `python -m benchmarks.train`."""
