"""Starting a script or command as two ranks of one process group without torchrun's launcher."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run_on_two_ranks(
    args: list[str], env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess:
    """Return the outcome of `python args` started as ranks 0 and 1 of one process group, with the variables
    torchrun sets (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT) but without its launcher, which costs each
    test another interpreter importing torch: the return code is the worse rank's, the output both ranks'.
    A rank still running 10 s after the other failed is killed, as torchrun does."""
    import socket
    import sys
    import tempfile
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as logs:
        outputs = [(Path(logs) / f"{rank}.out", Path(logs) / f"{rank}.err") for rank in (0, 1)]
        ranks = []
        for rank, (out, err) in enumerate(outputs):
            variables = {"WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2",
                         "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}  # fmt: skip
            with out.open("w") as stdout, err.open("w") as stderr:
                ranks.append(subprocess.Popen([sys.executable, *args], env={**env, **variables}, stdout=stdout,
                                              stderr=stderr, text=True))  # fmt: skip
        deadline, failed_at = time.monotonic() + timeout, None
        while any(rank.poll() is None for rank in ranks):
            if failed_at is None and any(rank.poll() not in (None, 0) for rank in ranks):
                failed_at = time.monotonic()
            if time.monotonic() > deadline or (failed_at is not None and time.monotonic() > failed_at + 10):
                for rank in ranks:
                    rank.kill()
            time.sleep(0.05)
        codes = [rank.wait() for rank in ranks]
        stdout = "".join(out.read_text() for out, _ in outputs)
        stderr = "".join(err.read_text() for _, err in outputs)
    return subprocess.CompletedProcess(args, max(codes, key=abs), stdout, stderr)
