"""Compliance across the organization: rule-name normalisation, report rows and summaries, and renderers (pure).

Nothing here imports boto3 or typer; orgdeploy.aws.compliance reads AWS and hands these modules plain values.
"""
