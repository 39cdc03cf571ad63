"""A tiny OpenAI-compatible chat-completions server on 127.0.0.1 for the advisor tests.

It plays a model that first calls one tool, then writes its final answer (through the structured-output
tool) from what the tool returned — over real HTTP, through the OpenAI client pydantic-ai uses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _completion(message: dict, finish: str) -> dict:
    return {"id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "stub-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}


def tool_call(name: str, arguments: dict, call_id: str = "call_1") -> dict:
    return _completion({"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]},
        "tool_calls")


class OpenAIStub:
    """``script(request_body) -> completion dict``; every request body and header is kept in ``requests``."""

    def __init__(self, script: Callable[[dict], dict]):
        self.script = script
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                payload = json.dumps(stub.script(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def credit_script(body: dict) -> dict:
    """Call credit_explanation, then answer with the score and first reason code it returned."""
    tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
    if not tool_messages:
        return tool_call("credit_explanation", {})
    result = json.loads(tool_messages[-1]["content"])
    answer = (f"Your score is {result['score']} ({result['band']} band). The main reason is "
              f"{result['reasons'][0]['code']}.")
    return tool_call("final_result", {"answer": answer, "declined": False}, call_id="call_2")
