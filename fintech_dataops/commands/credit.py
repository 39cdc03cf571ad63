"""``fintech-dataops credit score CUSTOMER_ID [--explain] [--live]``: one customer's credit score as JSON;
``fintech-dataops credit validate [--json]``: the score against matured loan outcomes.

Reads ``credit.scores`` (and ``credit.features`` for ``--explain``) through a
read-only connection; ``--live`` scores the customer from the core tables now
with the same code as the portfolio run. Only duckdb, numpy and pandas are
imported on this path (no Dagster, no scikit-learn), so it answers in well
under two seconds from a cold start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from fintech_dataops.lib.ingestion.landing import resolve_data_dir


def register(subparsers) -> None:
    credit = subparsers.add_parser("credit", help="credit scores: look up and explain a customer's score, validate against outcomes")
    commands = credit.add_subparsers(dest="credit_command", metavar="SUBCOMMAND")
    score = commands.add_parser(
        "score", help="print a customer's score, band, components and reasons as JSON",
        description="Print the customer's stored score (credit.scores) as JSON: score, band, components, "
                    "evidence, scorability and reason codes.",
    )
    score.add_argument("customer_id", help="customer id, e.g. C0000042")
    score.add_argument("--explain", action="store_true",
                       help="also show how each component and factor was computed, with its inputs")
    score.add_argument("--live", action="store_true",
                       help="score from the core tables now instead of reading the stored score")
    score.add_argument("--wait", type=float, default=30.0,
                       help="seconds to wait while a pipeline holds the warehouse lock (default 30)")
    score.set_defaults(handler=score_command)
    validate = commands.add_parser(
        "validate", help="how well the score ranks and is calibrated against matured loan outcomes",
        description="Outcomes, defaults, AUC, Gini, KS (all matured outcomes and the out-of-time vintages after the "
                    "champion's training window), the oracle AUC when the data is simulated, calibration by band, "
                    "thin/thick-file parity and AUC/KS per vintage. Exit code 1 when default rates are not "
                    "monotone across bands or thin/thick parity fails.",
    )
    validate.add_argument("--json", action="store_true", help="print the full report as JSON")
    validate.add_argument("--wait", type=float, default=30.0,
                          help="seconds to wait while a pipeline holds the warehouse lock (default 30)")
    validate.set_defaults(handler=validate_command)
    credit.set_defaults(handler=lambda args: (credit.print_help(), 2)[1])


def validate_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.credit.scorecard import champion_pointer, load_champion
    from fintech_dataops.lib.credit.validation import outcome_frame, read_truth, validation_summary
    from fintech_dataops.lib.warehouse import WarehouseLockTimeout, connection, table_exists

    data_dir = resolve_data_dir(args.data_dir)
    database = data_dir / "warehouse.duckdb"
    if not database.exists():
        print(f"error: no warehouse at {database}; run the pipeline first (make run)", file=sys.stderr)
        return 1
    card = load_champion(data_dir / "models")
    try:
        with connection(database, read_only=True, wait_seconds=args.wait) as con:
            if not table_exists(con, "credit.scores"):
                print("error: no credit.scores table yet: materialize credit/scores first", file=sys.stderr)
                return 1
            frame = outcome_frame(con)
    except WarehouseLockTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    summary = validation_summary(frame, card=card, truth=read_truth(data_dir),
                                 out_of_time_from=card.training_window["applied_to"] if card else None)
    summary["champion"] = champion_pointer(data_dir / "models").get("version")
    if card is not None:
        summary["training_window"] = card.training_window
    ok = summary["default_rate_monotone"] and summary["thin_thick_parity_ok"]
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(_validate_text(summary))
    return 0 if ok else 1


def _validate_text(s: dict) -> str:
    def f(v, fmt="{:.3f}"):
        return "–" if v is None else fmt.format(v)

    lines = [f"champion {s['champion']} (scores: {s['model_version']})",
             f"all matured outcomes: {s['outcomes']:,} ({s['defaults']:,} defaults)  AUC {f(s['auc'])}  "
             f"Gini {f(s['gini'])}  KS {f(s['ks'])}  oracle AUC {f(s['oracle_auc'])}  AUC/oracle {f(s['auc_to_oracle'])}"]
    if "out_of_time" in s:
        o = s["out_of_time"]
        lines.append(f"out of time (applied after {o['applied_after']}): {o['outcomes']:,} ({o['defaults']:,} defaults)  "
                     f"AUC {f(o['auc'])}  Gini {f(o['gini'])}  KS {f(o['ks'])}  oracle AUC {f(o['oracle_auc'])}  "
                     f"AUC/oracle {f(o['auc_to_oracle'])}")
    lines.append("band          outcomes  defaults  default rate (95 % CI)     predicted PD")
    for r in s["calibration_by_band"]:
        ci = f"[{f(r['ci_low'], '{:.1%}')}, {f(r['ci_high'], '{:.1%}')}]"
        lines.append(f"  {r['band']:<12}{r['outcomes']:>8,}{r['defaults']:>10,}  {f(r['default_rate'], '{:.1%}'):>7} "
                     f"{ci:<18}{f(r['predicted_pd'], '{:.1%}'):>8}")
    lines.append(f"default rate monotone across bands: {'yes' if s['default_rate_monotone'] else 'NO'}"
                 + "".join(f"\n  {p}" for p in s["monotonicity_problems"]))
    lines.append("thin vs thick file per band: thin rate (n) / thick rate (n) → difference 95 % CI")
    for r in s["thin_thick_parity"]:
        verdict = {True: "agree", False: "DIFFER", None: "too few to judge"}[r["agree"]]
        lines.append(f"  {r['band']:<12}{f(r['thin_default_rate'], '{:.1%}')} ({r['thin_outcomes']}) / "
                     f"{f(r['thick_default_rate'], '{:.1%}')} ({r['thick_outcomes']}) → {r['difference_ci']} {verdict}")
    return "\n".join(lines)


def score_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from fintech_dataops.lib.credit.lookup import explain_features, live_score, stored_features, stored_score
    from fintech_dataops.lib.warehouse import WarehouseLockTimeout, connection

    database = resolve_data_dir(args.data_dir) / "warehouse.duckdb"
    if not database.exists():
        print(f"error: no warehouse at {database}; run the pipeline first (make run)", file=sys.stderr)
        return 1
    card = None
    if args.live or args.explain:  # the stored lookup needs no model
        from fintech_dataops.lib.credit.scorecard import load_champion

        card = load_champion(resolve_data_dir(args.data_dir) / "models")
    imported = time.perf_counter()
    try:
        with connection(database, read_only=True, wait_seconds=args.wait) as con:
            if args.live:
                result, features = live_score(con, args.customer_id, scorecard=card)
            else:
                result = stored_score(con, args.customer_id)
                features = stored_features(con, args.customer_id) if args.explain and result else None
            if result is not None and args.explain:
                result["explain"] = (
                    explain_features(features, scorecard=card) if features is not None and not features.empty
                    else {"note": "no stored features for this customer (materialize credit/features)"}
                )
    except WarehouseLockTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result is None:
        print(f"error: customer {args.customer_id!r} not found in "
              f"{'core.customers' if args.live else 'credit.scores'}", file=sys.stderr)
        return 1
    done = time.perf_counter()
    result["timing_ms"] = {"imports": round((imported - started) * 1000, 1),
                           "lookup": round((done - imported) * 1000, 1)}
    try:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False), flush=True)
    except BrokenPipeError:  # e.g. piped into `head`: not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter from failing at exit
    return 0
