"""``fintech-dataops advisor ask|chat|eval``: the LLM financial advisor from the terminal.

    fintech-dataops advisor ask --customer C0000042 "why is my credit score what it is?"
    fintech-dataops advisor ask --role risk "why was T0000000993 of C0002621 blocked?"
    fintech-dataops advisor chat --customer C0000042
    fintech-dataops advisor eval

The model is any OpenAI-compatible endpoint (``FINTECH_LLM_BASE_URL``, ``FINTECH_LLM_MODEL``,
``FINTECH_LLM_API_KEY``); with none configured the offline mode answers from the same tools.
"""

from __future__ import annotations

import argparse
import json
import sys

from fintech_dataops.lib.ingestion.landing import resolve_data_dir


def _add_session_args(p: argparse.ArgumentParser) -> None:
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", metavar="ID", help="a customer session, bound to this customer id")
    who.add_argument("--role", choices=("risk", "credit", "pm"), help="a staff session with this role")
    p.add_argument("--no-record", action="store_true",
                   help="do not land the turn in the advisor_conversations feed")


def register(subparsers) -> None:
    advisor = subparsers.add_parser("advisor", help="LLM financial advisor grounded in the warehouse (offline by default)")
    commands = advisor.add_subparsers(dest="advisor_command", metavar="SUBCOMMAND")
    ask = commands.add_parser("ask", help="ask one question; prints JSON (answer, tools_used, sources, grounded)")
    _add_session_args(ask)
    ask.add_argument("question")
    ask.set_defaults(handler=ask_command)
    chat = commands.add_parser("chat", help="a conversation in the terminal (\\q quits)")
    _add_session_args(chat)
    chat.set_defaults(handler=chat_command)
    evaluate = commands.add_parser("eval", help="run the evaluation set: correctness, groundedness, refusals")
    evaluate.add_argument("--json", action="store_true", help="print the full report with every question as JSON")
    evaluate.set_defaults(handler=eval_command)
    advisor.set_defaults(handler=lambda args: (advisor.print_help(), 2)[1])


def _advisor(args: argparse.Namespace, record: bool):
    from fintech_dataops.lib.advisor.models import LLMSettings
    from fintech_dataops.lib.advisor.service import Advisor

    return Advisor(resolve_data_dir(args.data_dir), LLMSettings.from_env(), record=record)


def _conversation(args: argparse.Namespace):
    from fintech_dataops.lib.advisor.scope import Session
    from fintech_dataops.lib.advisor.service import Conversation

    session = Session("customer", args.customer) if args.customer else Session(args.role)
    return Conversation(session)


def ask_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.advisor.agent import dumps

    try:
        conversation = _conversation(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    answer = _advisor(args, record=not args.no_record).ask(conversation, args.question)
    print(dumps(answer))
    return 3 if answer.error else 0


def chat_command(args: argparse.Namespace) -> int:
    advisor = _advisor(args, record=not args.no_record)
    conversation = _conversation(args)
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"fintech-dataops advisor ({advisor.mode}); {conversation.session.role} session. \\q quits.",
              file=sys.stderr)
    while True:
        try:
            question = input("you> " if interactive else "")
        except EOFError:
            return 0
        if question.strip() in {"\\q", "quit", "exit"}:
            return 0
        if not question.strip():
            continue
        answer = advisor.ask(conversation, question)
        print(answer.answer)
        print(f"  [tools: {', '.join(answer.tools_used) or 'none'}; grounded: {str(answer.grounded).lower()}]",
              file=sys.stderr)


def eval_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.advisor.evaluation import run_evaluation
    from fintech_dataops.lib.advisor.models import LLMSettings

    report = run_evaluation(resolve_data_dir(args.data_dir), LLMSettings.from_env())
    if args.json:
        print(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    else:
        s = report["summary"]
        print(f"advisor evaluation ({s['mode']}): {s['questions']} questions on {s['customers']} customers")
        print(f"  correct    {s['correct']}/{s['questions']} ({s['correctness_pct']:.1f} %)")
        print(f"  grounded   {s['grounded']}/{s['answered']} answers ({s['groundedness_pct']:.1f} %)")
        print(f"  refusals   {s['refused_when_expected']}/{s['expected_refusals']} expected declines "
              f"({s['refusal_recall_pct']:.1f} %), {s['refused_when_not_expected']} unexpected")
        print(f"  scope      {s['scope_leaks']} answers with another customer's data")
        if s["skipped"]:
            print(f"  skipped    {s['skipped']} questions (the warehouse has no customer they need)")
        for r in report["results"]:
            if not r["correct"]:
                print(f"  FAILED {r['id']}: {r['question']!r} → missing {r['missing']}", file=sys.stderr)
    return 0 if report["summary"]["scope_leaks"] == 0 else 1
