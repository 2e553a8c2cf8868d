"""A signed S3 round trip (CreateBucket, PutObject, DeleteObject, DeleteBucket)."""

from __future__ import annotations

import secrets

import boto3
from botocore.config import Config


def client(endpoint: str, access: str, secret: str, ca_bundle: str | None = None) -> object:
    """A path-style SigV4 client with short timeouts and no retries (``ca_bundle``: the CA
    that must have signed an https endpoint's certificate)."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=2,
        read_timeout=10,
        retries={"max_attempts": 1, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        verify=ca_bundle or True,
        config=config,
    )


def roundtrip(endpoint: str, access: str, secret: str, ca_bundle: str | None = None) -> None:
    """Raise unless a signed write and delete succeed on a fresh bucket."""
    s3 = client(endpoint, access, secret, ca_bundle)
    bucket = f"devstack-health-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    try:
        s3.put_object(Bucket=bucket, Key="probe", Body=secrets.token_bytes(64))  # type: ignore[attr-defined]
        s3.delete_object(Bucket=bucket, Key="probe")  # type: ignore[attr-defined]
    finally:
        s3.delete_bucket(Bucket=bucket)  # type: ignore[attr-defined]


def lists(endpoint: str, access: str, secret: str) -> None:
    """Raise unless ``access`` may list the buckets (a known, valid identity)."""
    client(endpoint, access, secret).list_buckets()  # type: ignore[attr-defined]
