"""Holds Config compliance: the aggregate compliance APIs, the advanced query, pack rules, Config's activity.
Sandbox only. Imports moto, the rest of the sandbox and the pure rooms.
"""
