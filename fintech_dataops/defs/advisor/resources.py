"""The advisor's model endpoint as a resource (empty = the offline mode)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class AdvisorModelResource(dg.ConfigurableResource):
    """An OpenAI-compatible endpoint. In a deployment set ``api_key: {env: FINTECH_LLM_API_KEY}``
    (``dg.EnvVar``); empty fields fall back to ``FINTECH_LLM_*`` read when the asset runs, and with no
    endpoint at all the advisor answers in its offline mode."""

    base_url: str = Field(default="", description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1")
    model: str = Field(default="", description="model name at that endpoint")
    api_key: str = Field(default="", description="API key (set with dg.EnvVar('FINTECH_LLM_API_KEY'); never logged)")

    def settings(self):
        from fintech_dataops.lib.advisor.models import LLMSettings

        env = LLMSettings.from_env()
        return LLMSettings(self.base_url or env.base_url, self.model or env.model, self.api_key or env.api_key)
