"""HTTP handlers, one module per area; each exposes ``routes`` (an :class:`aiohttp.web.RouteTableDef`)."""
