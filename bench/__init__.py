"""Benchmarks on the local stack: hdh-migrate side by side with rclone (``python -m bench``)."""
