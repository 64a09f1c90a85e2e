"""appcast-hub: connect applicant tracking systems to Appcast, driven from Slack.

Plugins import :data:`hookimpl` from here to mark their hook implementations.
"""

import pluggy

__version__ = "0.1.0"

#: The project name pluggy uses to match hook specifications and implementations.
PROJECT_NAME = "appcast_hub"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "__version__", "hookimpl"]
