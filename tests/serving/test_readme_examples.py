"""The README's serving examples work as printed: `xling serve --port N` (the shipped models) is started as a
subprocess, and each `curl` line of the README's serving block is run with the real curl, only the port
changed. Skips when curl is missing."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib import request

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
PRINTED_ADDRESS = "localhost:8000"


def serving_block() -> list[str]:
    """Return the lines of the README's first code block under its `xling serve` heading."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Serving: `xling serve`", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: no bash block in the serving section"
    return block.group(1).splitlines()


def curl_lines() -> list[str]:
    lines = [line for line in serving_block() if line.startswith("curl ")]
    assert len(lines) >= 4, "README: the serving block lost its curl examples"
    return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[str]:
    """Return the printed address with the port of a running `xling serve` (the README's first command)."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    command = next(line for line in serving_block() if line.startswith("xling serve --port"))
    port = free_port()
    args = shlex.split(command.split("#", 1)[0].replace("8000", str(port)))
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "xling", *args[1:]], stdout=out, stderr=out, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`{command}` did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_curl(line: str, address: str) -> tuple[int, object]:
    """Return (HTTP status, parsed JSON body) of one README curl line sent to `address`."""
    args = shlex.split(line.replace(PRINTED_ADDRESS, address))
    done = subprocess.run([*args, "-o", "-", "-w", "\n%{http_code}"], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    body, status = done.stdout.rsplit("\n", 1)
    return int(status), json.loads(body)


def test_every_readme_curl_example_gets_a_json_answer(served):
    for line in curl_lines():
        status, body = run_curl(line, served)
        assert status == 200, f"{line} -> {status} {body}"
        assert body, line


def test_the_readme_examples_answer_what_they_ask(served):
    answers = {}
    for line in curl_lines():
        path = re.search(r"localhost:8000(/\S*)", line).group(1)
        answers.setdefault(path, []).append(run_curl(line, served)[1])
    first, auto = answers["/translate"][:2]
    assert first["translatedText"].strip() and "Word" not in first["translatedText"]
    # source "auto": the detector names German, and the translation is the one from German
    assert auto["detectedLanguage"]["language"] == "de" and auto["translatedText"].strip()
    given = run_curl(
        next(line for line in curl_lines() if '"auto"' in line).replace('"auto"', '"de"'), served
    )
    assert given[1]["translatedText"] == auto["translatedText"]
    assert answers["/detect"][0][0]["language"] == "de"
    vectors = [item["embedding"] for item in answers["/v1/embeddings"][0]["data"]]
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0
    assert len(answers["/embed"][0]) == 1 and len(answers["/embed"][0][0]) == len(vectors[0])
