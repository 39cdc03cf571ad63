"""Domains depend on each other through ``fintech_dataops.defs.catalog``, never by importing each other.

Each domain package is imported with no other ``fintech_dataops.defs`` module loaded (in its own
interpreter, so nothing earlier in the suite has imported anything for it), and the catalogue is
compared with what the Definitions define, so neither can drift.
"""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from fintech_dataops.defs import catalog

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = sorted(p.parent.name for p in (ROOT / "fintech_dataops" / "defs").glob("*/__init__.py"))
# The feed domains build their raw/core pairs with the factories in defs/ingestion and defs/quality
# (issue 14 item 1 turns them into one feed declaration); importing those two is not a cross-domain read.
FEED_FACTORIES = {"ingestion", "quality"}

_IMPORT_EACH_ALONE = r"""
import importlib, json, sys, warnings
import dagster as dg
warnings.simplefilter("ignore")
report = {}
for domain in sys.argv[1:]:
    for name in [n for n in sys.modules if n == "fintech_dataops.defs" or n.startswith("fintech_dataops.defs.")]:
        del sys.modules[name]          # lib/ never imports defs/ (test_architecture), so this is a fresh start
    module = importlib.import_module(f"fintech_dataops.defs.{domain}")
    keys = set()
    for asset in module.defs.assets or []:
        keys.update(asset.keys if isinstance(asset, dg.AssetsDefinition) else [asset.key])
    loaded = sorted({n.split(".")[2] for n in sys.modules if n.startswith("fintech_dataops.defs.")} & set(sys.argv[1:]))
    report[domain] = {"loaded": loaded, "keys": sorted(k.to_user_string() for k in keys)}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def domains_imported_alone() -> dict:
    done = subprocess.run([sys.executable, "-c", _IMPORT_EACH_ALONE, *DOMAINS], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def graph():
    from fintech_dataops.defs import build_defs

    return build_defs().resolve_asset_graph()


def test_each_domain_imports_on_its_own_without_loading_another_domain(domains_imported_alone):
    assert set(domains_imported_alone) == set(DOMAINS) and len(DOMAINS) >= 10
    for domain, imported in domains_imported_alone.items():
        assert imported["keys"], f"{domain} defines no asset"
        others = set(imported["loaded"]) - {domain} - FEED_FACTORIES
        assert not others, f"importing fintech_dataops.defs.{domain} imported {sorted(others)}: use defs/catalog.py"


def test_every_catalogued_key_is_defined_by_the_domain_the_catalogue_names(domains_imported_alone, graph):
    for key, owner in catalog.OWNERS.items():
        assert key.to_user_string() in domains_imported_alone[owner]["keys"], f"{owner} does not define {key}"
        assert graph.get(key).tags["domain"] == owner


def test_every_dependency_is_an_asset_and_cross_domain_ones_go_through_the_catalogue(graph):
    defined = graph.materializable_asset_keys
    for key in defined:
        node = graph.get(key)
        for parent in node.parent_keys:
            assert parent in defined, f"{key.to_user_string()} depends on {parent.to_user_string()}, which no asset defines"
            if graph.get(parent).tags["domain"] != node.tags["domain"]:
                assert parent in catalog.OWNERS, (
                    f"{node.tags['domain']} reads {parent.to_user_string()} of {graph.get(parent).tags['domain']}: "
                    "add it to fintech_dataops/defs/catalog.py")
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        assert {spec.asset_key, *(dep.asset_key for dep in spec.additional_deps)} <= defined, check_key


def test_the_catalogue_lists_only_tables_another_domain_reads(graph):
    read_across = {parent for key in graph.materializable_asset_keys for parent in graph.get(key).parent_keys
                   if graph.get(parent).tags["domain"] != graph.get(key).tags["domain"]}
    every_feed = {*catalog.RAW_FEEDS.values(), *catalog.CORE_FEEDS.values()}  # published per feed, as a family
    assert set(catalog.OWNERS) - every_feed == read_across - every_feed


def test_a_mart_depends_on_every_table_its_sql_reads(tmp_path):
    from fintech_dataops.defs.analytics.marts import build_mart_assets

    (tmp_path / "new_mart.sql").write_text("SELECT * FROM fraud.alerts a JOIN some_schema.not_an_asset n USING (id)")
    (mart,) = build_mart_assets(tmp_path)
    # not silently dropped from the lineage: the catalogue test above fails on a table no asset defines
    assert set(mart.dependency_keys) == {catalog.FRAUD_ALERTS, dg.AssetKey(["some_schema", "not_an_asset"])}
