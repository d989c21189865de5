"""Holds the seeded organization (accounts, OUs, quirks) and the Account Management API it answers.
Sandbox only. Imports moto, boto3, the rest of the sandbox and the pure rooms.
"""
