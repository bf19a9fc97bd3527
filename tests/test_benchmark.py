"""The bench rows that measure threads and load run on tiny data and leave no process behind (no timing checked)."""
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


def test_the_busy_process_is_stopped_when_the_timed_work_raises(spinners):
    with pytest.raises(RuntimeError), benchmark.busy_process():
        raise RuntimeError("timed work failed")
    assert len(spinners) == 1 and spinners[0].poll() is not None
