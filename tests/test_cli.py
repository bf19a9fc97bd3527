import subprocess
import sys

from fastbp.cli import main


def test_train_prints_held_out_accuracy_of_at_least_095(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fastbp", "train", "--verbose", "0"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("held-out accuracy:")[1].split()[0])
    assert accuracy >= 0.95


def test_bad_argument_is_one_clear_line_and_nonzero_exit(capsys):
    assert main(["train", "--epochs", "-1", "--verbose", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fastbp: error: epochs must be an integer >= 0, got -1"]
