"""The sop-eval command: version, help, demo, and one-line errors with exit status 2."""

import re
import subprocess
import sys

import pytest

from sop_eval import __version__
from sop_eval.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sop_eval.cli", *args], capture_output=True, text=True)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_demo(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "demo" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: sop-eval" in capsys.readouterr().out


def test_demo_runs_in_a_subprocess(tmp_path):
    done = run("demo", "--out", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stderr
    assert re.search(r"cohort 1 .*% \(.*% to .*%\)", done.stdout)
    assert "pooled" in done.stdout and "total due: £" in done.stdout
    assert (tmp_path / "demo" / "report.html").exists()
    assert "Traceback" not in done.stderr
    # self-contained: the contract and data travel with the results, so the folder verifies anywhere
    assert (tmp_path / "demo" / "contract" / "demo.toml").is_file() and (tmp_path / "demo" / "data").is_dir()
    moved = tmp_path / "elsewhere" / "bundle"
    moved.parent.mkdir()
    (tmp_path / "demo").rename(moved)
    again = run("verify", str(moved))
    assert again.returncode == 0 and again.stdout.startswith("verified:"), again.stdout + again.stderr


def test_user_error_is_one_line_and_exit_2(monkeypatch, capsys):
    import sop_eval.cli as cli
    from sop_eval import SopEvalError

    def broken(args):
        raise SopEvalError("column 'x' is missing; add it")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["verify"].set_defaults(handler=broken)
    assert cli.main(["verify", "somewhere"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "sop-eval: error: column 'x' is missing; add it"


def test_unknown_command_exits_2():
    done = run("frobnicate")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_interval_labels_follow_the_contract_level(tmp_path, capsys):
    from contract_copies import FIXTURES, copy_contract

    contract = copy_contract("demo.toml", tmp_path / "c", FIXTURES / "reoffending.parquet",
                             **{"level = 0.95": "level = 0.9"})
    out = tmp_path / "out"
    assert main(["run", str(contract), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "reduction (90% CI)" in printed and "95%" not in printed
    html = (out / "report.html").read_text()
    assert "90% CI" in html and "with 90% intervals" in html and "90% confidence interval" in html
    assert "95%" not in html


def test_stage_messages_reach_a_captured_stderr_unless_quiet(tmp_path, capsys):
    from contract_copies import FIXTURES, copy_contract

    contract = copy_contract("demo.toml", tmp_path / "c", FIXTURES / "reoffending_small.csv")
    assert not sys.stderr.isatty()  # captured: no terminal
    assert main(["run", str(contract), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    stages = [line for line in err.splitlines() if line.startswith("sop-eval: ")
              and not line.startswith(("sop-eval: warning:", "sop-eval: error:"))]
    assert any("reading" in line for line in stages) and any("evaluated" in line for line in stages)
    assert stages[-1] == f"sop-eval: done: {tmp_path / 'out'}"
    assert "\r" not in err and "cohorts:" not in err  # progress bars only at a terminal
    log = (tmp_path / "out" / "run.log").read_text()
    assert all(line.removeprefix("sop-eval: ") in log for line in stages)

    assert main(["run", str(contract), "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    quiet = capsys.readouterr().err
    assert not [line for line in quiet.splitlines() if "reading" in line or "done:" in line]
    assert "evaluated" in (tmp_path / "quiet" / "run.log").read_text()
