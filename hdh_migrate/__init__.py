"""hdh-migrate: move health datasets from Azure Blob Storage to SecNumCloud S3 clouds."""

__version__ = "0.2.0"
