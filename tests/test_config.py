from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LABBOOK_DATA_DIR", "LABBOOK_API_TOKENS", "DATABASE_URL", "LABBOOK_CONFIG", "LABBOOK_MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_offline_and_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = Settings()
    assert settings.data_dir == tmp_path / "labbook"
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'labbook' / 'labbook.db'}"
    assert settings.env_tokens == ()
    assert settings.max_body_bytes == 1024 * 1024


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABBOOK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LABBOOK_API_TOKENS", " one, two ,,")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/labbook")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.env_tokens == ("one", "two")
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db:5432/labbook"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("", None),
    ],
)
def test_database_url_forms(monkeypatch: pytest.MonkeyPatch, url: str, expected: str | None) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    settings = Settings(data_dir=Path("/d"))
    assert settings.sqlalchemy_url == (expected or "sqlite:////d/labbook.db")


def test_toml_file_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "labbook.toml"
    config.write_text('max_body_bytes = 2048\napi_tokens = "from-file"\ndata_dir = "/srv/labbook"\n')
    monkeypatch.setenv("LABBOOK_CONFIG", str(config))
    monkeypatch.setenv("LABBOOK_API_TOKENS", "from-env")
    settings = Settings()
    assert settings.max_body_bytes == 2048
    assert settings.data_dir == Path("/srv/labbook")
    assert settings.env_tokens == ("from-env",)


def test_unknown_key_in_toml_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "labbook.toml"
    config.write_text("max_body_byte = 10\n")
    monkeypatch.setenv("LABBOOK_CONFIG", str(config))
    with pytest.raises(ValueError, match="max_body_byte"):
        Settings()


def test_tokens_are_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABBOOK_API_TOKENS", "super-secret-token")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/x")
    text = repr(Settings())
    assert "super-secret-token" not in text
    assert "hunter2" not in text
