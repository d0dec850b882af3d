"""Shared by the benchmark scripts: the machine line and writing one section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    """One line naming the cores, CPU, RAM and library versions."""
    import pandas
    import pyarrow
    import torch

    mem_kb = 0
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{os.cpu_count()} cores (`nproc`), {cpu}, {mem_kb / 2**20:.1f} GiB RAM, {gpu}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, pyarrow {pyarrow.__version__}, pandas "
        f"{pandas.__version__}, numpy {np.__version__}; {platform.system()} {platform.release()}"
    )


def write_section(section: str, key: str, body: str, docs: Path = DOCS) -> None:
    """Replace the body of ``## section`` (between ``<!-- key:start/end -->``), keeping the others."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    heading = f"## {section}"
    block = f"{start}\n{body}\n{end}"
    text = docs.read_text() if docs.exists() else "# Benchmarks\n\nEach section is written by the script it names.\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    docs.parent.mkdir(parents=True, exist_ok=True)
    tmp = docs.with_name(f".{docs.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, docs)
