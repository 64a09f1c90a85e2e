"""The ``appcast`` destination: hire and funnel events to Appcast, pixel snippets and feed bids."""
