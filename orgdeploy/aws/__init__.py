"""Gateways: the only modules that import boto3. Each takes an AwsContext."""
