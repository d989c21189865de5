"""Holds CloudFormation models for the types moto skips, each calling moto's real backends, and stack failures.
Sandbox only. Imports moto, the rest of the sandbox and the pure rooms.
"""
