"""The ``workable`` adapter: Workable's jobs (SPI v3), stages, signed candidate webhooks, hires and Apply."""
