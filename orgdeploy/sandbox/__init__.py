"""Holds the emulated AWS Organization on moto: stack sets, CloudFormation models, compliance, the org, the server.
Imports moto and every room but cli/; only the --sandbox path imports it. moto is the optional sandbox extra.
"""
