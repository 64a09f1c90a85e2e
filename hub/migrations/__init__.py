"""Schema migrations (tortoise-orms migration framework): never edit an applied one."""
