"""Settings from the environment or a `.env` file, read once in `main` and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from faq.decide import CALIBRATION_FILE
from faq.examples import HERE as EXAMPLES_DIR
from faq.loader import CONTENT_DIR
from faq.offices import OFFICES_FILE
from faq.urgent import URGENT_FILE
from locales import LANGUAGES


class Settings(BaseSettings):
    """Every variable is documented in the README (Configuration)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///poradna.db"
    database_timeout: float = Field(default=5.0, gt=0, le=60)
    faq_dir: Path = CONTENT_DIR
    urgent_file: Path = URGENT_FILE
    # negatives.yaml, smalltalk.yaml and urgent_examples.yaml (the matcher's examples).
    examples_dir: Path = EXAMPLES_DIR
    calibration_file: Path = CALIBRATION_FILE
    offices_file: Path = OFFICES_FILE
    crisis_contacts: str | None = None
    default_language: str = "en"
    retention_days: int = Field(default=90, ge=1, le=3650)
    # `poradna faq check` warns about topics whose `checked:` date is older than this.
    content_max_age_days: int = Field(default=180, ge=1, le=3650)
    log_level: str = "WARNING"
    console_user: str = "local"
    staff_language: str = "cs"
    sla_minutes: int = Field(default=30, ge=1)
    rate_limit_per_minute: int = Field(default=30, ge=1)
    log_format: str = "text"
    urgent_sla_minutes: int = Field(default=5, ge=1)
    telegram_bot_token: SecretStr | None = None
    telegram_api_base: str | None = None
    telegram_bot_username: str | None = None
    staff_chat_id: int | None = None
    admin_telegram_ids: str = ""
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    port: int = 8080
    # Facebook Messenger (bot/meta/): served at /messenger by `poradna run --webhook`.
    messenger_page_token: SecretStr | None = None
    messenger_app_secret: SecretStr | None = None
    messenger_verify_token: SecretStr | None = None
    messenger_page_name: str | None = None
    meta_graph_api_base: str = "https://graph.facebook.com"
    meta_graph_api_version: str = "v21.0"
    # How long after a person's last message a caseworker may still write with the HUMAN_AGENT
    # tag (Meta grants the tag on review; 0: never use it, only the 24-hour window).
    messenger_human_agent_days: int = Field(default=7, ge=0, le=7)

    @property
    def admin_ids(self) -> list[str]:
        return [part.strip() for part in self.admin_telegram_ids.split(",") if part.strip()]

    @field_validator("default_language", "staff_language")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value

    @property
    def messenger_enabled(self) -> bool:
        """Messenger is served when its page token, app secret and verify token are all set."""
        return None not in (
            self.messenger_page_token,
            self.messenger_app_secret,
            self.messenger_verify_token,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
