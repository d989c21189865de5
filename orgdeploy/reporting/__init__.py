"""Holds what a person reads: compliance rows and rendering, rule names, cost, events, census, status, run text.
Pure. Imports config/, templates/, planning/ and orgdeploy.errors; never boto3, botocore, typer, moto, aws/, running/.
"""
