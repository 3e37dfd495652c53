"""The HTML report on run folders made by the real phases (scripted backends), on partial and
empty folders, and on a multi-round run: sections, numbers, data-URI plots, escaping."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from svdistill.backends.base import Request
from svdistill.backends.scripted import ScriptedBackend
from svdistill.cli import app
from svdistill.config import load_config
from svdistill.curate import run_curate
from svdistill.evaluate import run_evaluate
from svdistill.report import build_report
from svdistill.runfolder import RunFolder
from svdistill.sample import run_sample
from svdistill.verify import run_verify

EVIL = "<script>alert(1)</script>"
SECTIONS = [
    "Results: before / after / UQ-TTC",
    "Acceptance funnel",
    "Judge votes",
    "Model calls and tokens",
    "Judge quality",
    "Curation",
    "Training",
    "Sampling",
    "Examples",
    "Run contents",
    "Resolved config",
    "Package versions",
]
VOID = {"meta", "img", "br", "hr", "input", "link", "col", "wbr", "source"}


def solve(prompt: str) -> int:
    a, op, b = re.search(r"(-?\d+)\s*([-+*])\s*(-?\d+)", prompt).groups()
    return {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op]


def model_and_judge(request: Request) -> str:
    """One scripted model that both answers and judges. As a sampler, seed % 4 decides: 1 is a
    wrong "not sure" answer (the factual judge says no), 2 a right "perhaps" answer (the cycle
    judge cannot decide), others right and carrying markup. As a judge: yes otherwise."""
    prompt = request.messages[-1][1]
    if "reconstruct that question" in prompt:
        return "Which sum? perhaps" if "perhaps" in prompt else "What is the sum?"
    if "[[" in prompt:
        if "not sure" in prompt:
            return "That is wrong. [[N]]"
        return "Hard to say." if "perhaps" in prompt else "Looks right. [[Y]]"
    value = solve(prompt)
    kind = request.params.seed % 4
    if kind == 1:
        return f"I am not sure. \\boxed{{{value + 1}}}"
    if kind == 2:
        return f"perhaps \\boxed{{{value}}}"
    return f"<think>{value}</think>We get {value}. <b>bold</b> {EVIL} \\boxed{{{value}}}"


def always_right(request: Request) -> str:
    return f"It is \\boxed{{{solve(request.messages[-1][1])}}}."


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def fake_training(run: Path) -> list[float]:
    """train/log.jsonl and train/stats.json in the format train.py writes them."""
    losses = [round(2.0 * math.exp(-step / 4) + 0.2, 4) for step in range(1, 11)]
    rows = [
        {"step": s, "epoch": s / 5, "elapsed_s": s * 0.1, "loss": x, "learning_rate": 1e-4}
        for s, x in enumerate(losses, start=1)
    ]
    rows.append({"step": 10, "epoch": 2.0, "elapsed_s": 1.0, "train_loss": 0.8})
    write_jsonl(run / "train/log.jsonl", rows)
    stats = {
        "base_model": "/models/tiny",
        "method": "lora",
        "examples": 5,
        "dropped_too_long": [],
        "steps": 10,
        "epochs": 2.0,
        "effective_batch": 4,
        "trainable_params": 4321,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "train_loss": 0.8,
        "s_per_step": 0.1,
        "wall_s": 3.5,
        "peak_rss_mib": 512.0,
        "peak_gpu_mib": None,
        "model_dir": str(run / "model"),
        "train": {"learning_rate": 1e-4, "weight_decay": 0.01, "warmup_ratio": 0.04},
    }
    (run / "train/stats.json").write_text(json.dumps(stats), encoding="utf-8")
    return losses


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    """A complete run: sample, verify, curate with the real phases, fake training, and
    evaluations of the base model, the trained model and UQ-TTC."""
    root = tmp_path_factory.mktemp("report")
    seeds = [
        {"id": f"q{i}", "question": f"What is {i} + {i + 3}? {EVIL}", "answer": str(2 * i + 3)}
        for i in range(5)
    ]
    bench = [
        {"id": f"b{i}", "question": f"Compute {i} * 7.", "answer": str(7 * i)} for i in range(4)
    ]
    write_jsonl(root / "seeds.jsonl", seeds)
    write_jsonl(root / "bench.jsonl", bench)
    config = load_config(
        None,
        [
            "model.backend=scripted",
            f"seeds.path={root / 'seeds.jsonl'}",
            "sample.n=4",
            "verify.votes=2",
            f"evaluate.benchmarks=[{root / 'bench.jsonl'}]",
            "evaluate.samples=4",
            "evaluate.bootstrap_resamples=50",
            "evaluate.uq_ttc_candidates=2",
        ],
    )
    run = RunFolder(root / "run")
    run.save_config(config)
    model = ScriptedBackend(default=model_and_judge, name="fake")
    try:
        run_sample(config, run, model, progress=False)
        run_verify(config, run, model, progress=False)
        run_curate(config, run, progress=False)
        fake_training(run.path)
        (run.path / "model").mkdir()  # `--model trained` needs the folder; a script answers
        for name, method, backend in [
            ("base", "single", model),
            ("base", "uq-ttc", model),
            ("trained", "single", ScriptedBackend(default=always_right, name="trained")),
        ]:
            run_evaluate(config, run, model=name, method=method, progress=False, backend=backend)
    finally:
        run.close()
    return run.path


class TagChecker(HTMLParser):
    """Fails on a closing tag that does not match the open one; collects ids and images."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.images: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_html(text: str) -> TagChecker:
    assert text.startswith("<!DOCTYPE html>")
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert checker.stack == []
    assert len(checker.ids) == len(set(checker.ids)), "duplicate anchors"
    # self-contained: nothing fetched, nothing run
    assert not re.search(r"<script|<link|src=\"(?!data:)|url\(", text)
    return checker


def test_full_report_has_every_section_and_the_numbers(full_run: Path):
    out = build_report(full_run)
    assert out == full_run / "report.html"
    text = out.read_text(encoding="utf-8")
    check_html(text)
    for title in SECTIONS:
        assert f">{title}</h2>" in text, title
    # the headline rows come from the evaluation summaries
    for model in ("base", "trained", "base+uq-ttc"):
        summary = json.loads((full_run / f"eval/{model}/bench/summary.json").read_text())
        assert f"{100 * summary['pass_at_1']:.1f}%" in text
    assert "trained (after SVD)" in text and "UQ-TTC on base" in text
    # the funnel and calls come from verify_stats.json
    stats = json.loads((full_run / "verify_stats.json").read_text())
    assert 0 < stats["accepted"] < stats["candidates"]
    assert f"Accepted <b>{stats['accepted']}</b> of {stats['candidates']}" in text
    assert f">{stats['model_calls']:,}</td>" in text
    for stage in stats["stages"]:
        assert f"<td>{stage['name']}</td>" in text
    # the cycle judge rejects right answers it cannot decide on: precision below the base rate
    quality = stats["quality"]["stages"]["cycle"]
    assert quality["precision"] < quality["base_rate"]
    assert 'class="warn"' in text and "no signal" in text
    # curation and training
    sft = json.loads((full_run / "sft/stats.json").read_text())
    assert "first-valid" in text and f">{sft['kept']}</td>" in text
    assert "lora" in text and "/models/tiny" in text
    assert "svdistill" in text and "python" in text and "verify:" in text  # config, versions


def test_plots_are_embedded_as_png_data_uris(full_run: Path):
    pytest.importorskip("matplotlib")
    checker = check_html(build_report(full_run).read_text(encoding="utf-8"))
    # pass@1, funnel, votes, loss
    assert len(checker.images) == 4
    for src in checker.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_and_user_text_is_escaped(full_run: Path):
    text = build_report(full_run).read_text(encoding="utf-8")
    assert EVIL not in text and "<b>bold</b>" not in text
    assert html_escaped(EVIL) in text  # the question and the candidate, shown as text
    assert html_escaped("<b>bold</b>") in text


def html_escaped(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_empty_run_folder_says_what_is_missing(tmp_path: Path):
    text = build_report(tmp_path).read_text(encoding="utf-8")
    checker = check_html(text)
    assert checker.images == []
    for title in SECTIONS:
        assert f">{title}</h2>" in text
    assert "Not available: evaluation results" in text
    assert "Not available: verify_stats.json" in text
    assert "Not available: config.yaml" in text
    assert "svdistill sample" in text and "svdistill train" in text
    assert text.count('class="absent"') == 11  # every item of the contents table
    assert "<span>missing</span> config.yaml, questions.jsonl," in text  # in the header too


def test_partial_and_corrupt_runs(full_run: Path, tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.yaml", "questions.jsonl", "candidates.jsonl", "sample_stats.json"):
        shutil.copy(full_run / name, run / name)
    (run / "verify_stats.json").write_text("{not json", encoding="utf-8")
    (run / "verdicts.jsonl").write_text('{"question_id": "q0", "stages": []}\nbroken\n')
    text = build_report(run).read_text(encoding="utf-8")
    check_html(text)
    assert "Problems reading the run" in text
    assert "verify_stats.json: could not be read" in text
    assert "verdicts.jsonl: 1 unreadable lines skipped" in text
    sample = json.loads((run / "sample_stats.json").read_text())
    assert f">{sample['candidates']}</td>" in text  # sampling is shown
    assert "Not available: sft/stats.json" in text


def test_a_malformed_file_spoils_only_its_own_section(tmp_path: Path):
    (tmp_path / "verify_stats.json").write_text(json.dumps({"candidates": 3, "stages": [{}]}))
    (tmp_path / "sft").mkdir()
    (tmp_path / "sft/stats.json").write_text("[1, 2]")
    text = build_report(tmp_path).read_text(encoding="utf-8")
    check_html(text)
    assert 'Acceptance funnel</h2><p class="missing">Not available: could not be drawn' in text
    assert "sft/stats.json: not a JSON object" in text
    assert ">Package versions</h2>" in text


def test_judge_quality_not_measured_without_references(full_run: Path, tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    stats = json.loads((full_run / "verify_stats.json").read_text())
    stats["quality"] = None
    (run / "verify_stats.json").write_text(json.dumps(stats))
    text = build_report(run).read_text(encoding="utf-8")
    assert "Not measured: no seed question carries a reference answer" in text


def test_multi_round_run(full_run: Path, tmp_path: Path):
    run = tmp_path / "multi"
    for k in (1, 2):
        shutil.copytree(full_run, run / f"round-{k}", ignore=shutil.ignore_patterns("calls.jsonl"))
    summary_path = run / "round-2/eval/trained/bench/summary.json"
    summary = json.loads(summary_path.read_text())
    summary.update(pass_at_1=0.4321, ci=[0.3, 0.55])
    summary_path.write_text(json.dumps(summary))
    shutil.copy(full_run / "config.yaml", run / "config.yaml")
    with open(run / "round-2/config.yaml", "a", encoding="utf-8") as f:
        f.write("# round 2 samples from round 1's model\n")
    text = build_report(run).read_text(encoding="utf-8")
    checker = check_html(text)  # unique anchors across rounds included
    assert ">Summary across rounds</h2>" in text
    assert ">Round 1</h2>" in text and ">Round 2</h2>" in text
    assert text.count(">Acceptance funnel</h3>") == 2
    assert "43.2%" in text  # round 2's pass@1 in the summary table
    assert "round-2-funnel" in checker.ids
    assert "Round 2 config" in text and "Round 1 config" not in text  # only where it differs
    if "matplotlib" in sys.modules or _has_matplotlib():
        assert len(checker.images) == 1 + 2 * 4  # the rounds plot, then each round's


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def test_without_matplotlib_the_tables_remain(full_run: Path, monkeypatch):
    from svdistill.report import plots

    monkeypatch.setattr(plots, "available", lambda: False)
    text = build_report(full_run).read_text(encoding="utf-8")
    assert check_html(text).images == []
    assert "matplotlib is not installed" in text and "trained (after SVD)" in text


def test_missing_folder_is_an_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        build_report(tmp_path / "nope")


def test_cli_prints_the_report_path(full_run: Path, tmp_path: Path):
    result = CliRunner().invoke(app, ["report", str(full_run), "--no-open"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(full_run / "report.html")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such run folder" in " ".join(result.output.split())


def test_core_imports_without_matplotlib_or_torch():
    code = (
        "import sys, svdistill.report, svdistill.report.plots\n"
        "assert 'matplotlib' not in sys.modules and 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_filter_ablation_stands_beside_the_trained_model(full_run: Path, tmp_path: Path):
    run = tmp_path / "with-ablation"
    shutil.copytree(full_run, run, ignore=shutil.ignore_patterns("calls.jsonl"))
    ablation = run / "no-filter/eval/trained/bench"
    shutil.copytree(run / "eval/trained/bench", ablation)
    summary = json.loads((ablation / "summary.json").read_text())
    summary.update(pass_at_1=0.1234, ci=[0.05, 0.2])
    (ablation / "summary.json").write_text(json.dumps(summary))
    text = build_report(run).read_text(encoding="utf-8")
    check_html(text)
    row = text.index("trained on unverified samples (no-filter)")
    assert text.index("trained (after SVD)") < row < text.index("UQ-TTC on base")
    assert "12.3%" in text[row:row + 400]


def section_text(text: str, anchor: str) -> str:
    """The text of one section, tags stripped."""
    start = text.index(f'<section id="{anchor}">')
    return re.sub(r"<[^>]+>", " ", text[start:text.index("</section>", start)])


def test_paired_differences_are_shown_with_their_ci_and_in_words(full_run: Path):
    text = build_report(full_run).read_text(encoding="utf-8")
    check_html(text)
    assert ">Paired differences</h2>" in text
    paired = " ".join(section_text(text, "paired").split())
    # the scripted trained model is right on every question, base wrong on one sample in four:
    # +25 points on every question, an interval that excludes zero
    assert "trained − base" in paired and "+25.0 pts" in paired
    assert "better: trained above base" in paired
    # UQ-TTC on base picks an accepted (right) candidate: no difference to tell apart
    assert "trained − uq-ttc" in paired
    assert "not distinguishable: trained and uq-ttc within noise" in paired


def test_a_paired_difference_whose_ci_spans_zero_reads_not_distinguishable(tmp_path: Path):
    from svdistill.report.results import in_words, paired_section

    run = tmp_path / "run"
    for model, correct in (("base", [i % 2 == 0 for i in range(40)]),
                           ("trained", [i % 2 == 1 for i in range(40)])):
        write_jsonl(run / f"eval/{model}/toy/samples.jsonl",
                    [{"question_id": f"q{i}", "sample": 0, "correct": c}
                     for i, c in enumerate(correct)])
        (run / f"eval/{model}/toy/summary.json").write_text(json.dumps(
            {"benchmark": "toy", "model": model, "method": "single", "pass_at_1": 0.5}))
    from svdistill.evaluate.results import comparison_rows, paired_comparisons
    from svdistill.runfolder import RunFolder

    rows = comparison_rows(RunFolder(run))
    (diff,) = paired_comparisons(rows)
    assert diff.ci_low < 0 < diff.ci_high
    assert in_words(diff)[1] == "indistinct"
    html_text = paired_section(rows)
    assert "not distinguishable" in html_text and "better" not in html_text
    worse = diff.__class__(**{**diff.to_dict(), "diff": -0.2, "ci_low": -0.3, "ci_high": -0.1,
                              "verdict": "base better"})
    assert in_words(worse) == ("worse: trained below base", "worse")


def test_an_earlier_versions_run_folder_still_renders(full_run: Path, tmp_path: Path):
    """verify_stats.json without each stage's rejected_file, and a UQ-TTC summary with the
    judge quality in the shape evaluation wrote it before the one schema."""
    run = tmp_path / "old"
    shutil.copytree(full_run, run, ignore=shutil.ignore_patterns("calls.jsonl", "report.html"))
    stats = json.loads((run / "verify_stats.json").read_text())
    for stage in stats["stages"]:
        del stage["rejected_file"]
    (run / "verify_stats.json").write_text(json.dumps(stats))
    path = run / "eval/base+uq-ttc/bench/summary.json"
    summary = json.loads(path.read_text())
    summary["judge_quality"] = {"judged": 6, "accepted_right": 3, "accepted_wrong": 1,
                                "rejected_right": 0, "rejected_wrong": 2,
                                "precision": 0.75, "recall": 1.0}
    path.write_text(json.dumps(summary))
    text = build_report(run).read_text(encoding="utf-8")
    check_html(text)
    assert "Problems reading the run" not in text
    # the rejected files are found where verify wrote them: the same funnel as today's folder
    today = build_report(full_run).read_text(encoding="utf-8")
    assert section_text(text, "funnel") == section_text(today, "funnel")
    assert "in rejected/" in section_text(text, "funnel")
    quality = " ".join(section_text(text, "quality").split())
    # 6 graded, base rate 3/6, precision 3/4, recall 1
    assert "bench (UQ-TTC, base) 6 50.0% 75.0% 100.0%" in quality
