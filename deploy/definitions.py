"""The code location for a deployment: the platform's Definitions with resources from resources.yaml.

    dagster-webserver -w deploy/workspace.yaml      (and `dagster-daemon run -w deploy/workspace.yaml`)
"""

from pathlib import Path

from fintech_dataops.defs import build_defs
from fintech_dataops.defs.resources import resources_from_yaml

DEPLOY_DIR = Path(__file__).resolve().parent

defs = build_defs(resource_overrides=resources_from_yaml(DEPLOY_DIR / "resources.yaml"))
