"""The S3 server of the tests is a real one: it checks signatures and honours conditional writes.

The lake-on-a-bucket lock (issue 17) is a conditional PUT (`If-None-Match: *`): this is the evidence that the
server the tests run against refuses a second create of the same key, even when many race for it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest


def test_a_wrong_secret_is_refused(s3_server):
    import botocore.exceptions
    import botocore.session

    client = botocore.session.get_session().create_client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                                                          aws_access_key_id=s3_server.access_key, aws_secret_access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client.list_objects_v2(Bucket="ready")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_if_none_match_creates_a_key_once_even_under_a_race(s3_server):
    import botocore.exceptions

    client = s3_server.client()
    client.create_bucket(Bucket="conditional")

    def attempt(number: int) -> str:
        try:
            client.put_object(Bucket="conditional", Key="lock", Body=str(number).encode(), IfNoneMatch="*")
            return "created"
        except botocore.exceptions.ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert sorted(outcomes) == ["PreconditionFailed"] * 15 + ["created"]
    winner = outcomes.index("created")
    assert client.get_object(Bucket="conditional", Key="lock")["Body"].read() == str(winner).encode()
    etag = client.head_object(Bucket="conditional", Key="lock")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as refused:  # If-Match: a lease renewed only by its holder
        client.put_object(Bucket="conditional", Key="lock", Body=b"x", IfMatch='"00000000000000000000000000000000"')
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    client.put_object(Bucket="conditional", Key="lock", Body=b"renewed", IfMatch=etag)
