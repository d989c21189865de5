"""Holds the gateways, the only modules that call boto3, and the IAM permissions each call declares.
Imports the pure rooms, orgdeploy.errors, boto3 and botocore; never cli/, running/ or sandbox/.
"""
