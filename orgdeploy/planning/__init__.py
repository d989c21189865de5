"""Holds the step from desired state to ordered steps: inventory values, the Plan, planner stages, shards, diffs.
Pure. Imports config/, templates/ and orgdeploy.errors; never boto3, botocore, typer, moto, aws/ or later rooms.
"""
