"""The ``notify_webhook`` notice sink: the hub's incidents posted as signed JSON to a URL of yours."""
