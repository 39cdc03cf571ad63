"""The advisor against an OpenAI-compatible server over HTTP on 127.0.0.1 (the configured-model path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fintech_dataops.lib.advisor.agent import ask
from fintech_dataops.lib.advisor.models import LLMSettings, build_model
from fintech_dataops.lib.advisor.scope import Session
from fintech_dataops_tests.lib.advisor.advisor_data import OWN_SCORE
from fintech_dataops_tests.lib.advisor.openai_stub import OpenAIStub, credit_script, tool_call


def test_tool_calls_and_final_answer_over_http(advisor_dir):
    with OpenAIStub(credit_script) as stub:
        settings = LLMSettings(base_url=stub.base_url, model="stub-model", api_key="sk-test-123")
        out = ask("why is my score what it is?", Session("customer", "C0000042"), advisor_dir,
                  model=build_model(settings), mode=settings.mode)
    assert out.grounded and out.mode == "llm:stub-model"
    assert f"Your score is {OWN_SCORE} (fair band)" in out.answer and "SP_LOW_INCOME" in out.answer
    assert out.tools_used == ["credit_explanation"] and out.sources == ["credit.scores"]
    first, second = stub.requests
    assert first["path"] == "/v1/chat/completions" and first["headers"]["authorization"] == "Bearer sk-test-123"
    offered = {t["function"]["name"] for t in first["body"]["tools"]}
    assert offered == {"credit_explanation", "loan_status", "spending_summary", "fraud_decisions", "final_result"}
    assert "C0000042" in json.dumps(first["body"]["messages"])  # the instructions name the bound customer
    tool_message = next(m for m in second["body"]["messages"] if m["role"] == "tool")
    assert json.loads(tool_message["content"])["score"] == OWN_SCORE


def test_a_remote_model_inventing_a_figure_is_refused(advisor_dir):
    def script(body):
        if not any(m["role"] == "tool" for m in body["messages"]):
            return tool_call("credit_explanation", {})
        return tool_call("final_result", {"answer": "Your score is 849, the best we have seen."}, call_id="call_x")

    with OpenAIStub(script) as stub:
        settings = LLMSettings(base_url=stub.base_url, model="stub-model")
        out = ask("score?", Session("customer", "C0000042"), advisor_dir, model=build_model(settings), mode="llm")
    assert not out.grounded and out.declined and "849" not in out.answer
    assert len(stub.requests) == 4  # the first answer and two retries were all refused by the validator


def test_cli_uses_the_endpoint_from_the_environment(advisor_dir):
    with OpenAIStub(credit_script) as stub:
        env = {**os.environ, "FINTECH_DATA_DIR": str(advisor_dir), "FINTECH_LLM_BASE_URL": stub.base_url,
               "FINTECH_LLM_MODEL": "stub-model", "FINTECH_LLM_API_KEY": "sk-secret-key"}
        done = subprocess.run([sys.executable, "-m", "fintech_dataops.cli", "advisor", "ask", "--customer",
                               "C0000042", "why is my credit score what it is?"],
                              capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["grounded"] and out["tools_used"] == ["credit_explanation"] and str(OWN_SCORE) in out["answer"]
    assert "sk-secret-key" not in done.stdout + done.stderr
    assert stub.requests[0]["headers"]["authorization"] == "Bearer sk-secret-key"


def test_a_plain_text_final_answer_is_accepted_and_still_checked(advisor_dir):
    """Small local models often answer in plain text instead of the structured-output tool."""
    def script(body):
        tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_messages:
            return tool_call("credit_explanation", {})
        score = json.loads(tool_messages[-1]["content"])["score"]
        text = f"Your score is {score}." if len(tool_messages) == 1 else "Fine."
        return {"id": "chatcmpl-text", "object": "chat.completion", "created": 0, "model": "stub-model",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    with OpenAIStub(script) as stub:
        settings = LLMSettings(base_url=stub.base_url, model="stub-model")
        out = ask("score?", Session("customer", "C0000042"), advisor_dir, model=build_model(settings), mode="llm")
    assert out.grounded and out.answer.startswith(f"Your score is {OWN_SCORE}.")
    offered = {t["function"]["name"] for t in stub.requests[0]["body"]["tools"]}
    assert "final_result" in offered  # structured output stays available


@pytest.mark.slow  # the OpenAI client retries a refused connection with backoff before giving up
def test_an_unreachable_endpoint_is_a_polite_answer_and_exit_code_3(advisor_dir):
    from fintech_dataops.lib.serving import bind_loopback

    sock = bind_loopback("127.0.0.1", 0)  # a port nobody answers on once closed
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "FINTECH_DATA_DIR": str(advisor_dir), "FINTECH_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
           "FINTECH_LLM_MODEL": "stub-model", "FINTECH_LLM_API_KEY": "sk-never-printed"}
    done = subprocess.run([sys.executable, "-m", "fintech_dataops.cli", "advisor", "ask", "--no-record",
                           "--customer", "C0000042", "what is my score?"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["declined"] and not out["grounded"] and out["error"].startswith("Model")
    assert "not reachable" in out["answer"] and "sk-never-printed" not in done.stdout + done.stderr
