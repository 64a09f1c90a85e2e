"""The ``greenhouse`` adapter: jobs from a Greenhouse job board, hires from Greenhouse's signed webhooks.

A separate distribution (``appcast-hub-greenhouse``), registered under the ``appcast_hub`` entry-point
group like any third-party plugin; built from the hub's plugin guide and its adapter template.
"""
