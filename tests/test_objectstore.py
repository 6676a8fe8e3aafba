"""objectstore.py without a server: which URLs are buckets, which endpoint is used, and the error when a package is missing."""

from __future__ import annotations

import doctest
import sys

import pytest

from auditlake import Lake, objectstore
from auditlake.errors import InputError, MissingDependencyError


def test_the_examples_in_the_docstrings_hold():
    assert doctest.testmod(objectstore).failed == 0


@pytest.mark.parametrize(("text", "is_url"), [
    ("s3://org-audit/eks/", True), ("S3://org-audit/", True), ("gs://sink/cloudaudit.googleapis.com/", True),
    ("az://audit/insights-logs-kube-audit/", True), ("/var/log/audit.log", False), ("s3:/org-audit", False),
    ("http://example.com/audit.log", False), ("-", False), ("s3-audit.log", False),
])
def test_only_object_store_schemes_are_urls(text, is_url):
    assert objectstore.is_object_url(text) is is_url


def test_the_endpoint_given_wins_over_the_standard_variables(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    assert objectstore.s3_endpoint() is None  # AWS itself
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio:9000")
    assert objectstore.s3_endpoint() == "http://minio:9000"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://seaweed:8333")  # the service-specific variable, as the SDKs read it
    assert objectstore.s3_endpoint() == "http://seaweed:8333"
    assert objectstore.s3_endpoint("http://127.0.0.1:8333") == "http://127.0.0.1:8333"


@pytest.mark.parametrize(("url", "package", "extra"), [("s3://org-audit/eks/", "s3fs", "s3"), ("gs://sink/x/", "gcsfs", "gcs"),
                                                       ("az://audit/x/", "adlfs", "azure")])
def test_without_the_scheme_package_the_error_names_the_extra_to_install(tmp_path, monkeypatch, url, package, extra):
    monkeypatch.setitem(sys.modules, package, None)  # `import <package>` now raises ImportError
    with pytest.raises(MissingDependencyError) as missing:
        Lake(tmp_path / "lake").ingest([url])
    assert missing.value.hint == f"pip install 'auditlake[{extra}]'" and package in missing.value.message


def test_reading_local_files_imports_no_object_store_package(tmp_path):
    import subprocess

    code = ("import sys; from auditlake import Lake; from tests.conftest import DATA; "
            f"Lake({str(tmp_path / 'lake')!r}).ingest([DATA / 'immudb_endpointslice_updates.log']); "
            "print(sorted({'fsspec', 's3fs', 'botocore'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_object_store_failing_under_a_duckdb_read_is_one_line_not_an_internal_error() -> None:
    from auditlake.errors import ObjectStoreError, store_failure

    wrapped = Exception('Error: Traceback (most recent call last):\n  File "s3fs/core.py", line 1, in _info\n'
                        'botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:9/lake"\n'
                        "LINE 1: SELECT * FROM read_parquet(['s3://lake/sim/events/x.parquet'])")
    failure = store_failure(wrapped)
    assert isinstance(failure, ObjectStoreError) and int(failure.exit_code) == 2
    assert failure.message.startswith("the object store failed while reading the lake (botocore.exceptions.EndpointConnectionError")
    assert store_failure(ValueError("Binder Error: column x not found")) is None
    # the store going down under ingest's duplicate check: s3fs turns its 500 into an OSError no name above says
    going_down = Exception('Traceback (most recent call last):\n  File "/venv/lib/python3.11/site-packages/s3fs/core.py", line 216, '
                           'in _error_wrapper\nOSError: [Errno 121] Internal Server Error\n\nLINE 14: ... received_at FROM read_parquet($existing)')
    assert store_failure(going_down).message == "the object store failed while reading the lake (OSError: [Errno 121] Internal Server Error)"
    ours = Exception('Traceback (most recent call last):\n  File "/work/auditlake/udf.py", line 3, in f\nValueError: a bug of ours')
    assert store_failure(ours) is None  # raised outside the store's SDK: still an internal error, reported as one


def test_retries_are_ours_unless_the_user_set_them_the_aws_way(tmp_path, monkeypatch):
    for name in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    assert objectstore.s3_client_config()["retries"] == {"max_attempts": 5, "mode": "standard"}
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # a cron job that would rather fail at once than wait out the backoff
    assert objectstore.s3_client_config()["retries"] == {"total_max_attempts": 1, "mode": "standard"}  # the first try is the one
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    profile = tmp_path / "config"
    profile.write_text("[default]\nmax_attempts = 9\nretry_mode = adaptive\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(profile))
    assert objectstore.s3_client_config() == {**objectstore.S3_CLIENT_CONFIG, "retries": {"total_max_attempts": 9, "mode": "adaptive"}}
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "many")
    with pytest.raises(InputError, match="AWS_MAX_ATTEMPTS / max_attempts must be a whole number of attempts, at least 1, not 'many'"):
        objectstore.s3_client_config()
