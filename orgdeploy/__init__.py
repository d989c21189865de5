"""orgdeploy: deploy AWS Config across an AWS Organization with CloudFormation StackSets."""

__version__ = "0.1.0"
