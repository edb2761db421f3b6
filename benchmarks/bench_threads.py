"""Cost of making one LiteRT model safe to call from several threads: a lock vs one
interpreter per thread.

A LiteRT interpreter holds its input and output tensors inside itself, so two threads
calling it at once overwrite each other's input (silently wrong results) or trip its
allocation checks (RuntimeError). The two ways out:

* ``lock``: one interpreter, calls take turns (no extra memory; no parallel calls);
* ``per-thread``: each calling thread gets its own interpreter over the same model bytes
  (calls run in parallel; each interpreter costs its creation time and memory).

For each LiteRT thread count (``num_threads``) and each number of calling threads, every
calling thread runs ``--calls`` batch-1 inferences (one face, the analyzer's usual batch);
the table gives the throughput (calls/s over all threads), the median latency of one call,
and for ``per-thread`` the creation time and resident-memory growth of one more
interpreter. The machine's load average is printed too: the CI machines are shared.

Usage:
    .venv/bin/python benchmarks/bench_threads.py --model lponet_lite.tflite
    .venv/bin/python benchmarks/bench_threads.py              # exports lponet_lite first
"""
from __future__ import annotations

import argparse
import os
import pathlib
import resource
import statistics
import sys
import tempfile
import threading
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rss_mib() -> float:
    """Current resident memory of this process (MiB), from /proc when available."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_interpreter(data: bytes, num_threads: int):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data, num_threads=num_threads)
    runner = interp.get_signature_runner("serving_default")
    name = next(iter(runner.get_input_details()))
    return interp, runner, name


def run_threads(n_threads: int, calls: int, call) -> tuple:
    """Run ``call(thread_index)`` ``calls`` times in each of ``n_threads`` threads.

    Returns ``(calls per second over all threads, median seconds of one call)``.
    """
    times = [[] for _ in range(n_threads)]
    start = threading.Barrier(n_threads + 1)

    def work(k):
        start.wait()
        for _ in range(calls):
            t0 = time.perf_counter()
            call(k)
            times[k].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return n_threads * calls / wall, statistics.median(sum(times, []))


def bench(data: bytes, size: int, num_threads: int, callers, calls: int, warmup: int):
    batch = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    rows = []
    # lock: one interpreter shared, calls serialised.
    _, runner, name = make_interpreter(data, num_threads)
    lock = threading.Lock()

    def locked(_k):
        with lock:
            runner(**{name: batch})

    for _ in range(warmup):
        locked(0)
    for n in callers:
        rate, median = run_threads(n, calls, locked)
        rows.append(("lock", num_threads, n, rate, median, None, None))
    # per-thread: interpreters created (and warmed) before timing; creation measured alone.
    before = rss_mib()
    created, made = [], []
    for _ in range(max(callers)):
        t0 = time.perf_counter()
        one = make_interpreter(data, num_threads)
        one[1](**{one[2]: batch})  # first call allocates the tensors
        created.append(time.perf_counter() - t0)
        made.append(one)
    per_interp = (rss_mib() - before) / len(made)
    for _, r, nm in made:
        for _ in range(warmup):
            r(**{nm: batch})

    def own(k):
        _, r, nm = made[k]
        r(**{nm: batch})

    for n in callers:
        rate, median = run_threads(n, calls, own)
        rows.append(("per-thread", num_threads, n, rate, median,
                     statistics.median(created), per_interp))
    return rows


def export_preset(folder: pathlib.Path) -> str:
    from lponet_tf.export.tflite import export_tflite
    from lponet_tf.presets import from_preset

    return export_tflite(from_preset("lponet_lite"), folder / "lponet_lite.tflite")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help=".tflite file (default: export lponet_lite, fp32)")
    ap.add_argument("--num-threads", default="1,2", help="LiteRT threads per interpreter")
    ap.add_argument("--callers", default="1,2,4", help="calling Python threads")
    ap.add_argument("--calls", type=int, default=40, help="calls per calling thread")
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    from lponet_tf import metadata as md

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or export_preset(pathlib.Path(tmp))
        data = pathlib.Path(path).read_bytes()
    meta = md.read_tflite(data)
    size = meta.input_size if meta else 128
    callers = [int(v) for v in args.callers.split(",")]
    print(f"model {path}: {len(data) / 2**20:.1f} MiB, {size} px, "
          f"quantization {meta.quantization if meta else '?'}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| mode | LiteRT threads | calling threads | calls/s | median ms/call "
          "| create ms | MiB per interpreter |")
    print("|---|---|---|---|---|---|---|")
    for nt in (int(v) for v in args.num_threads.split(",")):
        for mode, t, n, rate, median, create, mib in bench(data, size, nt, callers,
                                                           args.calls, args.warmup):
            extra = ("", "") if create is None else (f"{create * 1e3:.0f}", f"{mib:.1f}")
            print(f"| {mode} | {t} | {n} | {rate:.0f} | {median * 1e3:.2f} | "
                  f"{extra[0]} | {extra[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
