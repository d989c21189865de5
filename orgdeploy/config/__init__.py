"""Holds the desired state: orgdeploy.yaml's model, YAML positions, in-place edits, botocore's data facts.
Pure. Imports orgdeploy.errors, pydantic, PyYAML; never boto3, botocore, typer, moto or another room.
"""
