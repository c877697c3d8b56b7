"""Artifact and storage settings: defaults, and bad configuration refused with one clear line."""

from __future__ import annotations

import pytest

from api.config import ARTIFACT_MEDIA_TYPES, ConfigError, load_settings

S3 = {"AGENTDECK_STORAGE_BACKEND": "s3", "AGENTDECK_S3_BUCKET": "bucket"}


def test_defaults_are_the_local_backend_25_mib_60_seconds_and_the_spec_media_types() -> None:
    artifacts = load_settings({}).artifacts
    assert (artifacts.backend, artifacts.max_bytes, artifacts.url_ttl_seconds, artifacts.s3) == (
        "local", 25 * 1024 * 1024, 60, None)
    assert set(artifacts.media_types) == set(ARTIFACT_MEDIA_TYPES) == {
        "image/png", "image/jpeg", "image/webp", "video/webm", "video/mp4", "application/json", "application/gzip",
        "application/zip", "text/plain"}


def test_s3_settings_normalise_the_prefix_and_keep_the_secret_out_of_repr() -> None:
    settings = load_settings({**S3, "AGENTDECK_S3_PREFIX": "/team/artifacts/", "AGENTDECK_S3_ACCESS_KEY_ID": "id",
                              "AGENTDECK_S3_SECRET_ACCESS_KEY": "very-secret-value",
                              "AGENTDECK_S3_ENDPOINT_URL": "https://ref.supabase.co/storage/v1/s3"})
    assert settings.artifacts.s3 is not None
    assert settings.artifacts.s3.prefix == "team/artifacts/"
    assert "very-secret-value" not in repr(settings)


@pytest.mark.parametrize(("env", "message"), [
    ({"AGENTDECK_STORAGE_BACKEND": "ftp"}, "must be local or s3"),
    ({"AGENTDECK_ARTIFACT_URL_TTL_SECONDS": "901"}, "at most 900"),
    ({"AGENTDECK_ARTIFACT_URL_TTL_SECONDS": "0"}, "at least 1"),
    ({"AGENTDECK_ARTIFACT_MAX_BYTES": "lots"}, "must be an integer"),
    ({"AGENTDECK_ARTIFACT_MEDIA_TYPES": "image/png,png"}, "malformed media types: png"),
    ({"AGENTDECK_ARTIFACT_SIGNING_KEY": "short"}, "at least 32 characters"),
    ({"AGENTDECK_STORAGE_BACKEND": "s3"}, "AGENTDECK_S3_BUCKET is required"),
    ({**S3, "AGENTDECK_S3_ACCESS_KEY_ID": "id"}, "both"),
    ({**S3, "AGENTDECK_S3_ENDPOINT_URL": "ftp://x"}, "http:// or https://"),
    ({**S3, "AGENTDECK_S3_ADDRESSING_STYLE": "dns"}, "auto, path or virtual"),
    ({"AGENTDECK_S3_BUCKET": "bucket"}, "AGENTDECK_STORAGE_BACKEND is not s3"),
])
def test_bad_storage_configuration_is_one_clear_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_settings(env)
    assert "\n" not in str(error.value)
