"""Holds AWS Config's recording and rules: recorded items, managed rules, evaluations, and the APIs that read them.
Sandbox only. Imports moto, the rest of the sandbox and the pure rooms.
"""
