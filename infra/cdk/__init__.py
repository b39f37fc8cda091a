"""The CDK app that deploys the whole system to AWS, derived from the app's own sources."""
