"""The ``notify_webhook`` notice sink: the hub's incidents and digests as signed JSON, to a URL of yours."""
