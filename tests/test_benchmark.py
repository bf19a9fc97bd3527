"""The bench rows that measure threads and load run on tiny data and leave no process behind (no timing checked)."""
import os
import subprocess
import sys

import pytest

from fastbp import benchmark


@pytest.fixture
def spinners(monkeypatch):
    """The busy processes the bench starts, recorded."""
    started = []
    original = benchmark.subprocess.Popen

    def recording_popen(*args, **kwargs):
        started.append(original(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(benchmark.subprocess, "Popen", recording_popen)
    return started


def test_threads_row_times_all_threads_against_one_and_the_machines_sgemm_scaling():
    table = benchmark.Table()
    benchmark.threads_row(table, 96)
    assert [row[1] for row in table.rows] == ["fastbp", "fastbp, 1 thread", "fastbp", "sgemm, 1 thread"]
    assert all(row[2] > 0 for row in table.rows)


def test_loaded_rows_report_slowdowns_and_stop_the_busy_process(capsys, spinners):
    benchmark.loaded_rows(None, 96)
    lines = [line for line in capsys.readouterr().out.splitlines() if "loaded / idle" in line]
    assert len(lines) == 3 and all(line.split()[-3].endswith("x") for line in lines)
    assert len(spinners) == 3 and all(spinner.poll() is not None for spinner in spinners)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and at least two usable CPUs")
def test_one_cpu_rows_time_fastbp_and_jax_in_a_process_allowed_one_cpu():
    table = benchmark.Table()
    benchmark.one_cpu_rows(table, 96)
    fastbp_rows = [row for row in table.rows if row[1] == "fastbp"]
    assert [row[0].split(",")[0] for row in fastbp_rows] == ["batch 16", "batch 64", "batch 256"]
    assert all("one CPU" in row[0] and row[2] > 0 for row in fastbp_rows)
    assert len(table.rows) == 3 * (2 if benchmark._optional("jax") else 1)


def test_the_busy_process_is_stopped_when_the_timed_work_raises(spinners):
    with pytest.raises(RuntimeError), benchmark.busy_process():
        raise RuntimeError("timed work failed")
    assert len(spinners) == 1 and spinners[0].poll() is not None


@pytest.fixture(scope="module")
def compile_all_report(tmp_path_factory):
    """What the compile-all script compiles in a new process into an empty kernel cache (about a minute): lines of
    "threads N", "<entry kernel> [dtypes]" and "versions <module>.<kernel> <compiled signatures> <the same with
    literal argument types taken as their plain types>".
    Empty, because a warm cache loads only the kernels called from Python: the callees compiled into them
    would show no versions at all."""
    report = ("\nimport importlib, pkgutil\nimport numba\nimport fastbp.kernels\nfrom fastbp.kernels import epoch\n"
              "from numba.core.registry import CPUDispatcher\n"
              "for name in ('train_epochs', 'train_epochs_blocks', 'train_epochs_rows', 'evaluate'):\n"
              "    print(name, sorted({str(signature[0].dtype) for signature in getattr(epoch, name).signatures}))\n"
              "print('threads', numba.config.NUMBA_NUM_THREADS)\n"
              "for info in pkgutil.iter_modules(fastbp.kernels.__path__):\n"
              "    module = importlib.import_module('fastbp.kernels.' + info.name)\n"
              "    for name, kernel in vars(module).items():\n"
              "        if isinstance(kernel, CPUDispatcher) and kernel.__module__ == module.__name__:\n"
              "            erased = {tuple(map(numba.core.types.unliteral, s)) for s in kernel.signatures}\n"
              "            print('versions', info.name + '.' + name, len(kernel.signatures), len(erased))\n")
    cache = tmp_path_factory.mktemp("numba_cache")
    out = subprocess.run([sys.executable, "-c", benchmark.COMPILE_ALL_SCRIPT + report], capture_output=True,
                         text=True, check=True, env={**os.environ, "NUMBA_CACHE_DIR": str(cache)}).stdout
    return [line for line in out.splitlines() if line]


def test_compile_all_script_reaches_every_entry_kernel_in_both_dtypes(compile_all_report):
    """The first-compile row measures every path: a fit that silently stops reaching one (as the blocks fit did
    when PARALLEL_PRODUCT rose to 2^20) would make the row look faster than a user's first compiles."""
    reached = dict(line.split(" ", 1) for line in compile_all_report if not line.startswith("versions "))
    expected = ["train_epochs", "train_epochs_rows", "evaluate"]
    if int(reached["threads"]) > 1:  # one thread never splits layers into blocks
        expected.append("train_epochs_blocks")
    for name in expected:
        assert reached[name] == "['float32', 'float64']", name


# Kernels compiled in two versions per dtype by design: dense.backward_rows with the micro-kernel (the blocks) and
# without it (micro_chunk None: the serial path, whose first compile it would slow).
VERSIONS_PER_DTYPE = {"dense.backward_rows": 2}


def test_every_kernel_compiles_once_per_dtype(compile_all_report):
    """A compiled version per dtype and no more, but where a second one is meant; and none that differs from
    another only by a literal argument: a caller passing a literal where others pass a variable (0 against an
    intp) compiles a version of its own, as backward_rows did in 97415c4 (1.9 s of every first compile)."""
    versions = {line.split(" ")[1]: [int(count) for count in line.split(" ")[2:]]
                for line in compile_all_report if line.startswith("versions ")}
    assert set(VERSIONS_PER_DTYPE) <= set(versions)
    assert {name: count for name, (count, _) in versions.items() if count > 2 * VERSIONS_PER_DTYPE.get(name, 1)} == {}
    assert {name: (count, erased) for name, (count, erased) in versions.items() if erased < count} == {}


def test_best_times_interleaves_the_sides_round_by_round_each_timed_call_after_its_own():
    """A drift of the machine's speed must hit fastbp and its peers alike: their calls alternate. Each timed call
    follows an untimed call of its own (settling for no time: exactly one)."""
    calls = []
    runs = {name: (lambda name=name: calls.append(name)) for name in ("fastbp", "peer")}
    seconds = benchmark.best_times(runs, {"fastbp": 3, "peer": 2}, settle_seconds=0.0)
    assert calls == ["fastbp", "fastbp", "peer", "peer"] * 2 + ["fastbp", "fastbp"]
    assert set(seconds) == {"fastbp", "peer"} and all(value >= 0 for value in seconds.values())


def test_best_times_settles_each_side_for_the_time_asked_before_timing_it(monkeypatch):
    """The other side's threads may still spin for about 0.1 s after its call (see SETTLE_SECONDS): each timed
    call comes after at least settle_seconds of its own side's calls, however short those calls are."""
    readings = iter(range(1000))
    monkeypatch.setattr(benchmark.time, "perf_counter", lambda: next(readings) / 16)  # a clock of 1/16 s ticks
    calls = []
    runs = {name: (lambda name=name: calls.append(name)) for name in ("fastbp", "peer")}
    benchmark.best_times(runs, {"fastbp": 2, "peer": 2}, settle_seconds=0.25)
    # Per timed call: the first untimed call, three more until 4 ticks (0.25 s) have passed, then the timed call.
    assert calls == ["fastbp"] * 5 + ["peer"] * 5 + ["fastbp"] * 5 + ["peer"] * 5


def test_best_times_keeps_each_sides_fastest_call(monkeypatch):
    clock = iter([0.0, 5.0, 5.0, 6.0, 6.0, 9.0, 9.0, 9.5])  # fastbp 5 then 3, peer 1 then 0.5
    monkeypatch.setattr(benchmark, "_settle", lambda function, seconds: function())
    monkeypatch.setattr(benchmark.time, "perf_counter", lambda: next(clock))
    seconds = benchmark.best_times({"fastbp": lambda: None, "peer": lambda: None}, {"fastbp": 2, "peer": 2})
    assert seconds == {"fastbp": 3.0, "peer": 0.5}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_peak_gflops_times_a_square_product_in_each_dtype(dtype, monkeypatch):
    """The header's peak: 2 n^3 flops over the best of the timed products, which really ran in that dtype."""
    seen = []
    matmul = benchmark.dense.matmul
    monkeypatch.setattr(benchmark.dense, "matmul", lambda a, b, out, *flags: seen.append(out.dtype) or
                        matmul(a, b, out, *flags))
    monkeypatch.setattr(benchmark, "best_time", lambda call, repeats: (call(), 0.5)[1])
    assert benchmark.peak_gflops(dtype, n=64) == pytest.approx(2 * 64 ** 3 / 0.5 / 1e9)
    assert seen == [dtype]
