"""Which model answers: any OpenAI-compatible endpoint by configuration, the offline model otherwise.

Read at run time (never at import): ``FINTECH_LLM_BASE_URL`` (e.g. ``http://127.0.0.1:8080/v1`` for a
llama.cpp / vLLM / Ollama server, or an OpenAI / Azure OpenAI endpoint), ``FINTECH_LLM_MODEL`` and
``FINTECH_LLM_API_KEY`` (never logged; Dagster passes it with ``EnvVar``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

BASE_URL_ENV, MODEL_ENV, API_KEY_ENV = "FINTECH_LLM_BASE_URL", "FINTECH_LLM_MODEL", "FINTECH_LLM_API_KEY"


@dataclass(frozen=True)
class LLMSettings:
    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)
    timeout_seconds: float = 60.0  # one model request; the advisor then says the model is unavailable

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings:
        env = os.environ if env is None else env
        return cls(env.get(BASE_URL_ENV, "").strip(), env.get(MODEL_ENV, "").strip(), env.get(API_KEY_ENV, ""))

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)

    @property
    def mode(self) -> str:
        return f"llm:{self.model}" if self.configured else "offline"


def build_model(settings: LLMSettings):
    """The pydantic-ai model for ``settings``: OpenAI-compatible chat completions, or the offline model."""
    if not settings.configured:
        from fintech_dataops.lib.advisor.offline import offline_model

        return offline_model()
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    # Local servers accept any key; the OpenAI client refuses an empty one.
    provider = OpenAIProvider(base_url=settings.base_url, api_key=settings.api_key or "not-needed")
    return OpenAIChatModel(settings.model, provider=provider, settings={"timeout": settings.timeout_seconds})
