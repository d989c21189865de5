"""Holds StackSets as AWS runs them: queued operations, per-instance work, tolerance, targets, auto-deployment.
Sandbox only. Imports moto, the rest of the sandbox and the pure rooms.
"""
