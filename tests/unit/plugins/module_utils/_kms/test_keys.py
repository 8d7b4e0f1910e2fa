"""KeyResolver: every form of key reference resolves to one ARN, cached."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, require_encryption_destination


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


def test_every_reference_form_resolves_to_the_same_arn(kms):
    key = kms.create_key(Description="k")["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=key["KeyId"])
    resolver = KeyResolver(kms)
    alias_arn = key["Arn"].replace(":key/" + key["KeyId"], ":alias/app")
    references = [key["KeyId"], key["Arn"], "alias/app", alias_arn]
    assert {resolver.arn(reference) for reference in references} == {key["Arn"]}
    info = resolver.resolve("alias/app")
    assert (info.region, info.account, info.key_id) == ("us-east-1", "123456789012", key["KeyId"])
    assert info.symmetric_encryption and info.enabled


def test_answers_are_cached_and_forget_drops_every_alias_of_them(kms):
    key = kms.create_key()["KeyMetadata"]
    resolver = KeyResolver(kms)
    first = resolver.resolve(key["KeyId"])
    assert resolver.resolve(key["Arn"]) is first
    kms.disable_key(KeyId=key["KeyId"])
    assert resolver.resolve(key["KeyId"]).state == "Enabled"
    resolver.forget(key["Arn"])
    assert resolver.resolve(key["KeyId"]).state == "Disabled"


def test_unknown_key_names_the_reference_and_the_fix(kms):
    with pytest.raises(RotationError) as excinfo:
        KeyResolver(kms).resolve("alias/missing")
    assert "alias/missing" in str(excinfo.value)
    assert "Fix:" in str(excinfo.value)


def test_resolve_all_of_nothing_is_empty(kms):
    assert KeyResolver(kms).resolve_all(None) == frozenset()


def test_hmac_key_is_not_an_encryption_destination(kms):
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    info = KeyResolver(kms).resolve(hmac_key["KeyId"])
    with pytest.raises(RotationError, match="HMAC_256/GENERATE_VERIFY_MAC"):
        require_encryption_destination(info)


def test_rekey_scope_moves_any_key_but_the_destination_or_only_the_named_sources(kms):
    from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import resolve_rekey_keys
    destination, source, other = (kms.create_key()["KeyMetadata"]["Arn"] for _index in range(3))
    every = resolve_rekey_keys(KeyResolver(kms), destination, [])
    assert every.moves(source) and every.moves(other) and not every.moves(destination)
    named = resolve_rekey_keys(KeyResolver(kms), destination, [source])
    assert named.moves(source) and not named.moves(other) and not named.moves(destination)
    with pytest.raises(RotationError, match="same key"):
        resolve_rekey_keys(KeyResolver(kms), destination, [source, destination])
