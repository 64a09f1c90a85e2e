"""The hub's built-in plugins, each registered under the ``appcast_hub`` entry-point group.

Every plugin folder has the same files: ``plugin.py`` (the hook implementations, the entry point),
``client.py`` (the protocol code, importing nothing from the hub), ``mapping.py`` (the ATS's shapes to the
hub's normalised ones), ``const.py`` (names and defaults) and a ``README.md``.
"""
