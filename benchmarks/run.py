"""Benchmarks: taskshed side by side with TaskShed 0.10.0, APScheduler 3 and arq.

    .venv/bin/python benchmarks/run.py [--smoke] [--repetitions N] [--only schedule,burst,lag,scale]
                                       [--peers ours,reference,apscheduler,arq] [--stores memory,redis,mariadb]

Writes docs/benchmarks.md, docs/assets/benchmarks/*.png and
benchmarks/results/summary.json (``--smoke``: tiny sizes, under
benchmarks/results/raw/smoke/ or ``--out``). See docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
