"""Bad input everywhere a user gives some, through the real CLI.

Every case must exit with status 2 (a user error, not a crash), print a message that names
what is wrong and where (file and line, config key, value, backend string, path), print no
traceback, and leave the run folder it was pointed at byte for byte as it was: each case runs
against a copy of a finished run (samples, call store, config, curated set).

Commands run in a temporary folder holding the files of FILES, so the paths in the table (and
in the expected messages) are the short relative ones a user would type. `svdistill PHASE
CONFIG` gets `-o run --no-progress model.backend=scripted` added after it, unless the case
names its own `-o`; a case's own overrides come later and win.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from svdistill.backends.scripted import echo_math_backend
from svdistill.cli import app
from svdistill.config import load_config
from svdistill.curate import run_curate
from svdistill.runfolder import RunFolder
from svdistill.sample import run_sample
from svdistill.store import atomic_writer

GOOD = '{"question": "What is 1 + 1?"}\n{"question": "What is 2 + 3?"}\n'
CHOICE = '"grader": "choice", "target": "A"'

FILES: dict[str, str | bytes] = {
    "good.jsonl": GOOD,
    # seeds
    "bad_json.jsonl": '{"question": "What is 1 + 1?"}\n{"question": "What is 2 + 2?"\n',
    "no_question.jsonl": '{"prompt": "What is 1 + 1?"}\n',
    "list_question.jsonl": '{"question": ["What is 1 + 1?"]}\n',
    "empty.jsonl": "",
    "latin1.jsonl": b'{"question": "What is 1 + 1?"}\n{"question": "Caf\xe9 bill: 3 + 4?"}\n',
    "nan.jsonl": '{"question": NaN}\n',
    "surrogate.jsonl": '{"question": "What is \\ud800?"}\n',
    "array.json": '[{"question": "What is 1 + 1?"}]\n',
    "latin1.csv": b"question\nWhat is 1 + 1?\nCaf\xe9 bill: 3 + 4?\n",
    "broken.parquet": b"PAR1 this is not parquet",
    # benchmarks
    "bench_bad_json.jsonl": '{"question": "1 + 1?", "target": "2"}\n{"question": \n',
    "bench_no_target.jsonl": '{"question": "1 + 1?"}\n',
    "bench_dict_question.jsonl": '{"question": {"text": "1 + 1?"}, "target": "2"}\n',
    "bench_empty.jsonl": "\n",
    "bench_latin1.jsonl": b'{"question": "1 + 1?", "target": "2"}\n'
                          b'{"question": "\xe9", "target": "1"}\n',
    "bench_nan.jsonl": '{"question": "1 + 1?", "target": Infinity}\n',
    "bench_options.jsonl": '{"question": "Which?", "options": "AB", ' + CHOICE + "}\n",
    "bench_grader.jsonl": '{"question": "1 + 1?", "target": "2", "grader": "essay"}\n',
    "bench_dup.jsonl": '{"id": "a", "question": "1 + 1?", "target": "2"}\n'
                       '{"id": "a", "question": "2 + 2?", "target": "4"}\n',
    "decon_torn.jsonl": '{"question": "What is 1 + 1?"}\n{"question": "What is',  # no newline
    # configs
    "typo.yaml": "sample:\n  n: 2\n  nn: 3\n",
    "broken.yaml": "sample:\n  n: 2\n  temperature: [0.7\nverify:\n  votes: 3\n",
    "tabs.yaml": "sample:\n\tn: 2\n",
    "latin1.yaml": b"sample:\n  n: 2  # caf\xe9\n",
    "list.yaml": "- sample\n- verify\n",
    "scalar_section.yaml": "sample: 4\n",
    "dup_key.yaml": "sample:\n  n: 2\n  n: 3\n",
    "typo_template.yaml": 'model:\n  user_template: "Solve: {questoin}"\n',
    "typo_prompt.yaml": "verify:\n  votes: 1\n  prompts:\n    factul: factual.txt\n",
    "factual.txt": "Check {question} against {anwser}. [[Y]] or [[N]]\n",
    # output folders
    "afile": "a regular file, not a folder\n",
}

# (case id, command, what the error message must say). Read as: `svdistill COMMAND` fails with
# a message containing the third column.
CASES: list[tuple[str, str, str]] = [
    # --- seed files (svdistill sample) ----------------------------------------------------------
    ("seeds-bad-json", "sample quick seeds.path=bad_json.jsonl",
     "bad_json.jsonl:line 2: not valid JSON (Expecting ',' delimiter, column 30)"),
    ("seeds-missing-field", "sample quick seeds.path=no_question.jsonl",
     "no_question.jsonl:line 1: field 'question' is missing or empty"),
    ("seeds-field-named-elsewhere", "sample quick seeds.path=good.jsonl seeds.question_field=q",
     "good.jsonl:line 1: field 'q' is missing or empty"),
    ("seeds-wrong-type", "sample quick seeds.path=list_question.jsonl",
     "list_question.jsonl:line 1: field 'question' must be text, got list"),
    ("seeds-empty-file", "sample quick seeds.path=empty.jsonl",
     "empty.jsonl: no usable seed questions (0 rows read)"),
    ("seeds-not-utf8", "sample quick seeds.path=latin1.jsonl",
     "latin1.jsonl:line 2: not UTF-8 text (byte 17)"),
    ("seeds-not-utf8-csv", "sample quick seeds.path=latin1.csv",
     "latin1.csv:line 3: not UTF-8 text"),
    ("seeds-nan", "sample quick seeds.path=nan.jsonl",
     "nan.jsonl:line 1: not valid JSON (NaN is not a JSON value)"),
    ("seeds-lone-surrogate", "sample quick seeds.path=surrogate.jsonl",
     "surrogate.jsonl:line 1: field 'question' is not valid Unicode"),
    ("seeds-json-array", "sample quick seeds.path=array.json",
     "array.json:line 1: a row must be a JSON object, got an array"),
    ("seeds-broken-parquet", "sample quick seeds.path=broken.parquet",
     "broken.parquet: cannot read Parquet"),
    ("seeds-missing-file", "sample quick seeds.path=missing.jsonl",
     "missing.jsonl: seed file not found"),
    ("seeds-unknown-format", "sample quick seeds.path=typo.yaml",
     "typo.yaml: unknown seed format '.yaml'"),
    ("seeds-offset-past-end", "sample quick seeds.path=good.jsonl seeds.offset=5",
     "good.jsonl: no usable seed questions (2 rows read; all 2 distinct questions come before "
     "seeds.offset=5)"),
    # --- benchmark files (svdistill evaluate, evaluate.benchmarks=[FILE]) -----------------------
    ("bench-bad-json", "evaluate quick evaluate.benchmarks=[bench_bad_json.jsonl]",
     "bench_bad_json.jsonl:line 2: not valid JSON (Expecting value, column 14)"),
    ("bench-missing-field", "evaluate quick evaluate.benchmarks=[bench_no_target.jsonl]",
     "bench_no_target.jsonl:line 1: field 'target' (or 'answer') is missing or empty"),
    ("bench-wrong-type", "evaluate quick evaluate.benchmarks=[bench_dict_question.jsonl]",
     "bench_dict_question.jsonl:line 1: field 'question' must be text, got dict"),
    ("bench-empty-file", "evaluate quick evaluate.benchmarks=[bench_empty.jsonl]",
     "bench_empty.jsonl: no benchmark rows"),
    ("bench-not-utf8", "evaluate quick evaluate.benchmarks=[bench_latin1.jsonl]",
     "bench_latin1.jsonl:line 2: not UTF-8 text (byte 14)"),
    ("bench-infinity", "evaluate quick evaluate.benchmarks=[bench_nan.jsonl]",
     "bench_nan.jsonl:line 1: not valid JSON (Infinity is not a JSON value)"),
    ("bench-choice-options", "evaluate quick evaluate.benchmarks=[bench_options.jsonl]",
     "bench_options.jsonl:line 1: a choice row needs 'options', a list of 2 to 26 texts"),
    ("bench-unknown-grader", "evaluate quick evaluate.benchmarks=[bench_grader.jsonl]",
     "bench_grader.jsonl:line 1: grader 'essay' is not one of math, choice, code, stdio, gym"),
    ("bench-duplicate-id", "evaluate quick evaluate.benchmarks=[bench_dup.jsonl]",
     "bench_dup.jsonl:line 2: duplicate id 'a' (first at bench_dup.jsonl:line 1)"),
    ("bench-missing-file", "evaluate quick evaluate.benchmarks=[missing.jsonl]",
     "missing.jsonl: benchmark file not found"),
    ("bench-not-a-list", "evaluate quick evaluate.benchmarks=good.jsonl",
     "evaluate.benchmarks: Input should be a valid list (write a list as key=[a, b]) "
     "(got 'good.jsonl'; from the override 'evaluate.benchmarks=good.jsonl')"),
    ("bench-bad-limit", "evaluate quick evaluate.benchmarks=[arithmetic@ten]",
     "benchmark 'arithmetic@ten': the limit after '@' must be a positive integer"),
    ("bench-unknown-name", "evaluate quick evaluate.benchmarks=[aritmetic]",
     "benchmark 'aritmetic': not a file and not a built-in"),
    ("decontaminate-torn-line", "curate quick curate.policy=no-filter "
     "curate.decontaminate=[decon_torn.jsonl]",
     "decon_torn.jsonl:line 2: not valid JSON (Unterminated string"),
    ("decontaminate-missing", "curate quick curate.policy=no-filter "
     "curate.decontaminate=[missing.jsonl]",
     "curate.decontaminate: no benchmark file at missing.jsonl"),
    # --- configs: files and overrides ---------------------------------------------------------
    ("config-unknown-key", "sample quick sample.nn=3",
     "sample.nn: unknown key (got 3; from the override 'sample.nn=3')"),
    ("config-unknown-key-in-file", "sample typo.yaml", "sample.nn: unknown key (got 3; "
     "typo.yaml line 3)"),
    ("config-wrong-type", "sample quick sample.n=many",
     "sample.n: Input should be a valid integer, unable to parse string as an integer "
     "(got 'many'; from the override 'sample.n=many')"),
    ("config-n-zero", "sample quick sample.n=0",
     "sample.n: Input should be greater than or equal to 1 (got 0;"),
    ("config-votes-zero", "verify quick verify.votes=0",
     "verify.votes: Input should be greater than or equal to 1 (got 0;"),
    ("config-negative-temperature", "sample quick sample.temperature=-0.5",
     "sample.temperature: Input should be greater than or equal to 0 (got -0.5;"),
    ("config-max-tokens-zero", "sample quick sample.max_tokens=0",
     "sample.max_tokens: Input should be greater than or equal to 1 (got 0;"),
    ("config-unknown-policy", "curate quick curate.policy=best-of-n",
     "curate.policy: Input should be 'first-valid', 'all-valid', 'no-filter', 'no-filter-first' "
     "or 'single-judge' (got 'best-of-n';"),
    ("config-unknown-stage", "verify quick verify.stages=[rules,magic]",
     "verify.stages: unknown stage(s) magic; known: rules, cycle"),
    ("config-unknown-stage-stops-run", "run quick verify.stages=[rules,magic]",
     "verify.stages: unknown stage(s) magic"),  # at load, not after paying for the samples
    ("config-stage-twice", "verify quick verify.stages=[rules,rules]",
     "verify.stages: a stage is listed twice"),
    ("config-no-stage", "verify quick verify.stages=[]", "verify.stages: no stage"),
    ("config-timeout-inf", "evaluate quick evaluate.code_timeout_s=inf",
     "evaluate.code_timeout_s: Input should be a finite number (got 'inf';"),
    ("config-timeout-huge", "evaluate quick evaluate.code_timeout_s=1e300",
     "evaluate.code_timeout_s: Input should be less than or equal to 86400 (got '1e300';"),
    ("config-n-huge", "sample quick sample.n=100000000",
     "sample.n: Input should be less than or equal to 1024 (got 100000000;"),
    ("config-temperature-nan", "sample quick sample.temperature=nan",
     "sample.temperature: Input should be a finite number (got 'nan';"),
    ("config-duplicate-key", "sample dup_key.yaml",
     "dup_key.yaml:3: not valid YAML (duplicate key 'sample.n', first at line 2;"),
    ("config-template-typo", "sample typo_template.yaml",
     "model.user_template: lacks the placeholder {question}"),
    ("config-template-typo-stops-run",
     "run quick 'model.user_template=Q: {question} {questoin}'",
     "model.user_template: unknown placeholder {questoin} (did you mean {question}?"),
    ("config-prompt-unknown-stops-run", "run typo_prompt.yaml",
     "verify.prompts.factul: unknown prompt (did you mean factual?"),
    ("config-prompt-placeholder-typo", "verify quick 'verify.prompts={factual: factual.txt}'",
     "verify.prompts.factual: factual.txt: prompt 'factual' lacks placeholder(s) {answer}; "
     "unknown placeholder {anwser} "
     "(did you mean {answer}?"),
    ("config-unknown-preset", "sample quick train.preset=paper-70b",
     "train: no train preset 'paper-70b'; known: cpu-smoke"),
    ("config-missing-prompt-file", "verify quick 'verify.prompts={factual: missing.txt}'",
     "verify.prompts.factual: cannot read missing.txt"),
    ("config-yaml-syntax", "sample broken.yaml",
     "broken.yaml:4: not valid YAML (expected ',' or ']', but got ':', column 7; while parsing "
     "a flow sequence that starts at line 3)"),
    ("config-yaml-tab", "sample tabs.yaml",
     "tabs.yaml:2: not valid YAML (found character '\\t' that cannot start any token"),
    ("config-not-utf8", "sample latin1.yaml", "latin1.yaml:2: not UTF-8 text (byte 21)"),
    ("config-not-a-mapping", "sample list.yaml",
     "list.yaml: the config must be a mapping of sections, not a list"),
    ("config-section-is-a-value", "sample scalar_section.yaml",
     "sample: Input should be a valid dictionary or instance of SampleConfig (got 4; "
     "scalar_section.yaml line 1)"),
    ("config-missing-file", "sample missing.yaml",
     "missing.yaml: cannot read config (No such file or directory)"),
    ("config-unknown-packaged", "sample quik",
     "config 'quik': no such file, and no packaged config of that name"),
    ("override-without-equals", "sample quick sample.n", "override 'sample.n': expected "
     "key.sub=value"),
    ("override-empty-key", "sample quick =3", "override '=3': the key before '=' is empty"),
    ("override-below-a-value", "sample quick sample.n.max=3",
     "override 'sample.n.max': 'n' is not a section"),
    # --- backend strings -----------------------------------------------------------------------
    ("backend-unknown-scheme", "sample quick model.backend=ollama:qwen",
     "backend 'ollama:qwen' is not one of: embedded"),
    ("backend-openai-no-model", "sample quick model.backend=openai:http://localhost:9/v1",
     "backend 'openai:http://localhost:9/v1': expected openai:http://HOST:PORT/v1#MODEL"),
    ("backend-openai-nothing", "sample quick model.backend=openai:",
     "backend 'openai:': expected openai:http://HOST:PORT/v1#MODEL"),
    ("backend-missing-gguf", "sample quick model.backend=llamacpp:missing.gguf",
     "backend 'llamacpp:missing.gguf': no GGUF file at missing.gguf"),
    ("backend-missing-hf-folder", "sample quick model.backend=hf:missing-model",
     "backend 'hf:missing-model': no model at missing-model"),
    ("backend-bad-scripted-delay", "sample quick model.backend=scripted:delay=soon",
     "backend 'scripted:delay=soon': delay='soon'"),
    ("judge-backend-unknown", "verify quick verify.judge_backend=gpt4",
     "backend 'gpt4' is not one of"),
    # --- model paths and output folders --------------------------------------------------------
    ("train-missing-base-model", "train quick train.base_model=missing-model",
     "train.base_model: no model at missing-model"),
    ("out-under-a-file", "sample quick -o afile/run", "afile/run: cannot create the run folder "
     "(Not a directory)"),
    ("out-is-a-file", "sample quick -o afile", "afile: the run folder is a file, not a folder"),
]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A run folder with samples, a call store, config.yaml and a curated set."""
    path = tmp_path_factory.mktemp("finished") / "run"
    cfg = load_config(None, ["model.backend=scripted", "seeds.limit=4", "sample.n=2",
                             "curate.policy=no-filter"])
    run = RunFolder(path)
    run_sample(cfg, run, echo_math_backend(), progress=False)
    run_curate(cfg, run, progress=False)
    run.close()
    assert {"candidates.jsonl", "calls.jsonl", "config.yaml", "sft/train.jsonl"} <= set(
        snapshot(path))
    return path


def svdistill(command: str) -> list[str]:
    phase, config, *rest = shlex.split(command)
    if "-o" not in rest:
        rest = ["-o", "run", *rest]
    return [phase, config, "--no-progress", "model.backend=scripted", *rest]


@pytest.mark.parametrize("case, command, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error_that_changes_nothing(
    case, command, message, finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    shutil.copytree(finished_run, tmp_path / "run")
    before = snapshot(tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, svdistill(command))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message in result.output, result.output
    assert snapshot(tmp_path / "run") == before, "a failed command changed the run folder"


# --- an unwritable or full output folder ----------------------------------------------------


def test_read_only_run_folder(finished_run: Path, tmp_path: Path):
    """A finished run the user may not write to. chmod 0o500 stops a normal user; root writes
    through it, so as root the folder is bind-mounted read-only in a private mount namespace
    (`unshare`), which stops root too (EROFS)."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = snapshot(run)
    args = svdistill("sample quick sample.n=3")
    args[args.index("run")] = str(run)
    command = [sys.executable, "-m", "svdistill", *args]
    if os.geteuid() != 0:
        run.chmod(0o500)
    else:
        if not shutil.which("unshare"):
            pytest.skip("root, and no unshare to make a read-only mount with")
        remount = f"mount --bind {run} {run} && mount -o remount,ro,bind {run} || exit 99"
        command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                   f'{remount}; exec "$@"', "sh", *command]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
    finally:
        run.chmod(0o700)
    if proc.returncode == 99:
        pytest.skip(f"cannot make a read-only mount here: {proc.stderr.strip()}")
    assert proc.returncode == 2, proc.stderr
    assert f"{run}: the run folder is not writable" in proc.stderr
    assert snapshot(run) == before


def test_full_disk_during_sample_keeps_the_previous_run(finished_run: Path, tmp_path: Path):
    """A write that runs out of room, in a real process: RLIMIT_FSIZE makes every write past
    the limit fail (EFBIG, the way ENOSPC fails on a full disk; Python ignores SIGXFSZ), for
    root too. The limit is below the call store's size, so the first newly paid call cannot be
    stored; the run must stop with a clear error and leave the previous run's files as they
    were, with no temporary file behind."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = snapshot(run)
    limit = (run / "calls.jsonl").stat().st_size - 1
    limit_then_run = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
        from svdistill.cli import app
        sys.argv = ["svdistill", *sys.argv[1:]]
        app()
    """)
    # sample.n=3 where the run has 2: a third sample per question is a new call to pay and store
    args = svdistill("sample quick seeds.limit=4 sample.n=3")
    args[args.index("run")] = str(run)
    proc = subprocess.run([sys.executable, "-c", limit_then_run, *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{run}: cannot write the" in proc.stderr and "File too large" in proc.stderr
    assert snapshot(run) == before


def test_atomic_write_that_runs_out_of_space_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """ENOSPC at fsync (where a full disk shows up for data the page cache accepted) or at a
    write: the old file stays whole, the temporary file is removed, the error reaches the caller.
    """
    path = tmp_path / "candidates.jsonl"
    path.write_text("old, complete contents\n")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError) as info, atomic_writer(path) as f:
        f.write("new contents that never reach the disk\n")
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()

    with pytest.raises(OSError) as info, atomic_writer(path) as f:
        f.write("partial")
        no_space()  # the disk fills up halfway through the rows
    assert info.value.errno == errno.ENOSPC
    assert path.read_text() == "old, complete contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["candidates.jsonl"]
