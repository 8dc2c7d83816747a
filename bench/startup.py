"""Start-up time and resident memory of the bot, each as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.stats import median

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "probe_build.py"


@dataclass
class Run:
    """One child process: wall time, peak resident memory, exit code."""

    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: bytes

    def as_dict(self) -> dict[str, float | int]:
        return {k: v for k, v in asdict(self).items() if k != "stdout"}


GNU_TIME = Path("/usr/bin/time")
# Without GNU time: a small interpreter forks the command and reports its peak RSS.
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_child(
    argv: list[str],
    env: dict[str, str],
    stdin: bytes = b"",
    cwd: Path = ROOT,
    timeout: float = 120,
) -> Run:
    """Run `argv`, feed `stdin` through a pipe, and measure its wall time and peak RSS.

    The peak RSS comes from GNU time (`%M`), or from a small launcher process: a child started
    directly from this (large) benchmark process would report this process's peak as its own,
    because Linux carries the peak over through fork and exec.
    """
    with tempfile.NamedTemporaryFile(prefix="bench-rss-", suffix=".txt") as rss_file:
        if GNU_TIME.exists():
            wrapped = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *argv]
        else:
            wrapped = [sys.executable, "-S", "-c", _LAUNCHER, rss_file.name, *argv]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                wrapped,
                cwd=cwd,
                env=env,
                input=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Run(time.perf_counter() - start, float("nan"), -9, b"")
        seconds = time.perf_counter() - start
        text = Path(rss_file.name).read_text().split()
        # Kilobytes on Linux.
        rss_mb = int(text[-1]) / 1024 if text and text[-1].isdigit() else float("nan")
    return Run(seconds, rss_mb, done.returncode, done.stdout)


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(DATABASE_URL=database_url, PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


@dataclass
class Startup:
    runs: int
    median_s: float
    min_s: float
    max_rss_mb: float
    ok: bool

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def repeat(argv: list[str], env: dict[str, str], runs: int, check=None) -> Startup:
    results = [run_child(argv, env) for _ in range(runs)]
    ok = all(r.returncode == 0 for r in results) and all(
        check(r.stdout) for r in results if check is not None
    )
    seconds = [r.seconds for r in results]
    return Startup(
        runs=runs,
        median_s=median(seconds),
        min_s=min(seconds),
        max_rss_mb=max(r.max_rss_mb for r in results),
        ok=ok,
    )


def ask_works(stdout: bytes) -> bool:
    try:
        answer = json.loads(stdout.decode().splitlines()[0])
    except (ValueError, IndexError):
        return False
    return isinstance(answer, dict) and "decision" in answer


def probe_build(env: dict[str, str], runs: int) -> dict[str, float]:
    """Median import time and build_app time, each in a fresh interpreter."""
    imports, builds = [], []
    for _ in range(runs):
        run = run_child([sys.executable, str(PROBE)], env)
        if run.returncode != 0:
            raise RuntimeError("bench/probe_build.py failed")
        measured = json.loads(run.stdout.decode())
        imports.append(measured["import_s"])
        builds.append(measured["build_app_s"])
    return {"import_s": median(imports), "build_app_s": median(builds), "runs": runs}


def console_questions(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()
