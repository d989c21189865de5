"""Holds what gets deployed: Jinja, rendering, manifest, recording groups, names, cfn-lint, the files init writes.
Pure. Imports config/ and orgdeploy.errors; never boto3, botocore, typer, moto or a later room.
"""
