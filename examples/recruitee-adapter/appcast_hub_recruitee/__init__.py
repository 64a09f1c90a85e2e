"""The ``recruitee`` adapter, an appcast-hub plugin outside the hub: Recruitee's offers, pipeline stages,
signed webhooks, hires and Appcast Apply."""
