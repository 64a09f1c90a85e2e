"""Fake ATSs and Slack for the hub's own tests and benchmarks: real aiohttp apps on loopback.

Each builds on :mod:`hub.testing.peers` (fault injection, serving on a free port), the part of the test
kit every adapter's tests can use; the fake Appcast is :mod:`hub.testing.appcast`.
"""
