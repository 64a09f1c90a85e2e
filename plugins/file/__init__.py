"""The ``file`` adapter: an account's jobs read from a local JSON file (the embedded default ATS)."""
