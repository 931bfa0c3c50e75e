"""AWS adapters: the only modules that import boto3. Errors leave them classified (errors.py)."""
