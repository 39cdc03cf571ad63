"""Advisor: the conversation feed (raw → core) and the evaluation figures of the LLM financial advisor."""

import dagster as dg

from fintech_dataops.defs.advisor.assets import advisor_assets
from fintech_dataops.defs.advisor.resources import AdvisorModelResource

defs = dg.Definitions(assets=advisor_assets, resources={"advisor_llm": AdvisorModelResource()})
