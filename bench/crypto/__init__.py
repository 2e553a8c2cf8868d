"""HDH1 throughput against raw AES-256-GCM, single-thread and with two workers."""
