"""`svdistill ablate` on a scripted model: cells take the right samples, decide as a direct verify
with their v would, pay only for calls no earlier cell or run paid, and tabulate; one cell trains
the tiny random model end to end."""

import json
import re
import shutil

import pytest

from svdistill import ablate as ablate_module
from svdistill.ablate import (
    Ablation,
    grid,
    pick,
    reference_cell,
    results_markdown,
    source_folder,
    table_rows,
)
from svdistill.backends.scripted import ScriptedBackend
from svdistill.config import load_config
from svdistill.runfolder import RunFolder
from svdistill.sample import run_sample
from svdistill.seeds import iter_seeds
from svdistill.store import RunError, read_jsonl
from svdistill.verify import run_verify

WRONG = {1, 4, 7}  # sample indices whose answer is off by one


def references(config) -> dict[str, str]:
    return {q.text: q.reference for q in iter_seeds(config.seeds)}


def scripted_model(config) -> ScriptedBackend:
    """Sampler: "Attempt i", right unless i is in WRONG. Judge (same model): the cycle stage
    always passes; the other judges say yes to a right answer except vote 3 on attempt 0, and
    to a wrong one only on vote 0. So v=1 accepts wrong answers, v=3 none, and v=5 also
    rejects some right ones: the three budgets decide differently."""
    refs = references(config)

    def sampler(request):
        question = request.messages[-1][1].split("\n\nEnd with")[0]
        i = request.params.seed - config.sample.seed
        value = int(refs.get(question, 0)) + (i in WRONG)
        return f"Attempt {i}: working it out gives {value}. The answer is \\boxed{{{value}}}."

    def judge(request):
        prompt = request.messages[-1][1]
        vote = request.params.seed - config.verify.seed
        question = re.search(r"<question>\n(.*?)\n</question>", prompt, re.S).group(1)
        m = re.search(r"Attempt (\d+): .*?\\boxed\{(-?\d+)\}", prompt)
        right = m.group(2) == str(refs[question])
        yes = vote != 3 or m.group(1) != "0" if right else vote == 0
        return "Checked. [[Y]]" if yes else "Found an error. [[N]]"

    return ScriptedBackend(rules=[(r"<answer>", "What is asked here?"),
                                  (r"<inferred_question>", "Same. [[Y]]"),
                                  (r"\[\[Y\]\]", judge)],
                           default=sampler, name="ablate")


@pytest.fixture
def config():
    cfg = load_config(None, ["model.backend=scripted", "seeds.limit=3", "sample.n=2",
                             "evaluate.samples=2", "evaluate.max_tokens=16"])
    cfg.evaluate.benchmarks = ["arithmetic@3"]
    return cfg


@pytest.fixture
def sampled(config, tmp_path):
    """RUN as `svdistill sample` leaves it: 2 samples per question, in RUN/calls.jsonl."""
    run = RunFolder(tmp_path)
    run.save_config(config)
    run_sample(config, run, scripted_model(config), progress=False)
    run.close()
    return tmp_path


def ablate(config, out, cells=None, train=False, ns=(1, 2, 4), vs=(1, 3, 5)):
    model = scripted_model(config)
    ablation = Ablation(config, out, grid(config, ns, vs), cells, train=train, progress=False,
                        backends={"scripted": model})
    return ablation.run(), model


def stored_calls(out):
    return sum(1 for _ in read_jsonl(out / "calls.jsonl"))


def test_grid_is_the_papers_by_default(config):
    cells = grid(config)
    assert [c.name for c in cells] == [f"n{n}-v{v}" for n in (1, 4, 8) for v in (1, 3, 5)] + [
        "no-filter", "single-judge", "all-valid"]
    single = {c.name: c for c in cells}["single-judge"]
    assert (single.n, single.votes, single.stages) == (8, 5, ("rules", "single"))
    assert {c.name: c for c in cells}["all-valid"].configure(config).curate.policy == "all-valid"
    with pytest.raises(RunError, match="unknown cell"):
        pick(cells, ["n9-v9"])


def test_cells_take_the_first_n_samples_and_sample_only_the_missing(config, sampled):
    out = sampled
    before = stored_calls(out)
    ablate(config, out, cells=["n1-v1", "n4-v1"])
    source = list(read_jsonl(out / "candidates.jsonl"))
    pool = list(read_jsonl(out / "ablate/samples/candidates.jsonl"))
    assert len(pool) == 3 * 4
    # samples 0-1 are RUN's own calls read back, 2-3 new ones: 2 per question paid for
    assert [r for r in pool if r["sample_index"] < 2] == source
    sample_stats = json.loads((out / "ablate/samples/sample_stats.json").read_text())
    assert (sample_stats["paid_calls"], sample_stats["cached_calls"]) == (6, 6)
    for n in (1, 4):
        cell = list(read_jsonl(out / f"ablate/n{n}-v1/candidates.jsonl"))
        assert cell == [r for r in pool if r["sample_index"] < n]
    assert stored_calls(out) > before


def test_cell_decisions_match_a_direct_verify(config, sampled, tmp_path_factory):
    out = sampled
    ablate(config, out, cells=["n4-v5", "n4-v3", "n4-v1"])
    direct = tmp_path_factory.mktemp("direct")  # its own empty call store: nothing shared
    cfg = config.model_copy(deep=True)
    cfg.sample.n, cfg.verify.votes = 4, 3
    run = RunFolder(direct)
    run_sample(cfg, run, scripted_model(cfg), progress=False)
    run_verify(cfg, run, scripted_model(cfg), progress=False)
    run.close()
    expected = list(read_jsonl(direct / "verdicts.jsonl"))
    assert list(read_jsonl(out / "ablate/n4-v3/verdicts.jsonl")) == expected
    accepted = {v: [r["accepted"] for r in read_jsonl(out / f"ablate/n4-v{v}/verdicts.jsonl")]
                for v in (1, 3, 5)}
    assert accepted[1] != accepted[3] != accepted[5]  # the scripted judge makes v matter
    assert sum(accepted[1]) > sum(accepted[3]) > sum(accepted[5])


def test_rerun_pays_no_calls_even_from_scratch(config, sampled):
    out = sampled
    first, _ = ablate(config, out)
    stored = stored_calls(out)
    again, model = ablate(config, out)  # markers say done: nothing runs
    assert model.calls == 0 and stored_calls(out) == stored
    assert again["cells"] == first["cells"]
    # Without any marker or cell file, every phase reruns and still pays nothing: the cells
    # read their calls from RUN's store, not from their own folders.
    shutil.rmtree(out / "ablate")
    fresh, model = ablate(config, out)
    assert model.calls == 0 and stored_calls(out) == stored
    for a, b in zip(fresh["cells"], first["cells"], strict=True):
        assert a["calls_paid"] == 0
        assert {k: v for k, v in a.items() if k != "calls_paid"} == {
            k: v for k, v in b.items() if k != "calls_paid"}


def test_no_train_rows(config, sampled):
    out = sampled
    results, _ = ablate(config, out)
    rows = {r["cell"]: r for r in results["cells"]}
    assert list(rows) == [c.name for c in grid(config, (1, 2, 4), (1, 3, 5))]
    assert all(r["eval"] == {} for r in rows.values()) and results["base"] == {}
    # v=1 accepts the wrong answers (samples 1 of each question), v=3 only right ones
    assert rows["n2-v1"]["precision"] < 1 and rows["n2-v3"]["precision"] == 1
    assert rows["n2-v3"]["recall"] == 1 and rows["n4-v5"]["recall"] < 1
    assert rows["n1-v5"]["kept"] == 0  # sample 0 fails vote 3: too strict with one candidate
    assert rows["n4-v3"]["kept"] == 3 and rows["n4-v3"]["kept_correct"] == 1
    assert rows["no-filter"]["kept"] == 12 and rows["no-filter"]["accepted"] is None
    assert rows["no-filter"]["kept_correct"] == 0.75  # the base rate: 3 of 4 samples are right
    assert rows["all-valid"]["kept"] == rows["all-valid"]["accepted"] > rows["n4-v5"]["kept"]
    assert rows["single-judge"]["stages"] == ["rules", "single"]
    assert rows["single-judge"]["kept"] == rows["n4-v5"]["kept"]  # this judge is one function
    assert rows["n4-v5"]["calls_needed"] > rows["n4-v3"]["calls_needed"]

    header, table = table_rows(results)
    assert header[:3] == ["setting", "kept", "accepted"] and "pass@1" not in " ".join(header)
    assert [r[0] for r in table][:2] == ["n=1, v=1", "n=1, v=3"]
    written = json.loads((out / "ablate/results.json").read_text())
    assert written["cells"] == results["cells"]
    assert (out / "ablate/results.md").read_text() == results_markdown(results)


def test_only_current_cells_are_reported(config, sampled):
    out = sampled
    ablate(config, out, cells=["n2-v3"])
    results, _ = ablate(config, out, cells=["n1-v1"])
    assert [r["cell"] for r in results["cells"]] == ["n1-v1", "n2-v3"]  # earlier runs count
    config.verify.temperature = 0.9  # the cells' verify inputs changed: no longer current
    results, _ = ablate(config, out, cells=["n1-v1"])
    assert [r["cell"] for r in results["cells"]] == ["n1-v1"]


def test_refuses_a_config_that_would_resample(config, sampled):
    out = sampled
    config.sample.temperature = 1.0
    with pytest.raises(RunError, match="sample.temperature"):
        ablate(config, out)


def test_cli_no_train(sampled, config):
    from typer.testing import CliRunner

    from svdistill.cli import app

    out = sampled
    result = CliRunner().invoke(app, [
        "ablate", str(out / "config.yaml"), "--out", str(out), "--n", "1,2", "--v", "1",
        "--no-train", "--cells", "n1-v1,no-filter", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "n=1, v=1" in result.output and "no filter (all 2 samples)" in result.output
    assert (out / "ablate/results.md").exists()


def write_eval(folder, correct):
    """An evaluation folder as run_evaluate writes it: one sample per question."""
    folder.mkdir(parents=True)
    (folder / "samples.jsonl").write_text("".join(
        json.dumps({"question_id": f"q{i}", "sample": 0, "correct": c}) + "\n"
        for i, c in enumerate(correct)))
    mean = sum(correct) / len(correct)
    (folder / "summary.json").write_text(json.dumps({
        "benchmark": "toy", "pass_at_1": mean, "ci": [mean, mean],
        "graded_questions": len(correct), "bootstrap": {"resamples": 200, "confidence": 0.95}}))


def test_reference_is_the_full_method_at_the_largest_budget(config):
    assert reference_cell(grid(config)).name == "n8-v5"
    assert reference_cell(grid(config, (1, 2), (3,))).name == "n2-v3"


def test_cells_are_paired_against_base_and_the_reference_cell(config, sampled, monkeypatch):
    out = sampled
    ns, vs = (1, 2, 4), (1, 3, 5)
    ablate(config, out, cells=["n2-v1", "n4-v5"], ns=ns, vs=vs)  # curated; no model trained
    root = out / "ablate"
    reference = [i % 3 != 2 for i in range(30)]  # 2 of 3 right
    write_eval(root / "base/eval/base/toy", [i % 3 == 0 for i in range(30)])  # 1 of 3
    write_eval(root / "n4-v5/eval/trained/toy", reference)
    # the reference with two answers swapped (one lost, one gained): no difference to see
    write_eval(root / "n2-v1/eval/trained/toy", [not c if i in (0, 2) else c
                                                 for i, c in enumerate(reference)])
    real = ablate_module.is_done  # the fake evaluations count as current ones

    def done(folder, label, cfg, kind):
        return (folder / "eval").is_dir() if label.startswith("evaluate") else real(
            folder, label, cfg, kind)

    monkeypatch.setattr(ablate_module, "is_done", done)
    results = Ablation(config, out, grid(config, ns, vs), train=False, progress=False).results()
    assert results["reference"] == "n4-v5"
    rows = {r["cell"]: r["eval"]["toy"] for r in results["cells"]}
    assert rows["n4-v5"]["vs_base"]["verdict"] == "n4-v5 better"
    assert rows["n4-v5"]["vs_base"]["diff"] == pytest.approx(1 / 3)
    assert "vs_reference" not in rows["n4-v5"]  # not against itself
    same = rows["n2-v1"]["vs_reference"]
    assert (same["a"], same["b"], same["questions"]) == ("n2-v1", "n4-v5", 30)
    assert same["diff"] == 0 and same["ci_low"] < 0 < same["ci_high"]
    assert same["verdict"] == "not distinguishable"

    header, table = table_rows(results)
    assert "toy vs base (paired)" in header and "toy vs n4-v5 (paired)" in header
    by_setting = {row[0]: dict(zip(header, row, strict=True)) for row in table}
    vs_base = by_setting["n=4, v=5"]["toy vs base (paired)"]
    assert vs_base.startswith("+33.3 (+") and vs_base.endswith(") better")
    assert by_setting["n=2, v=1"]["toy vs n4-v5 (paired)"].endswith(" not distinguishable")
    assert by_setting["base model"]["toy vs base (paired)"] == "-"
    assert "not distinguishable" in results_markdown(results)


def test_source_is_round_1_of_a_pipeline_run(tmp_path):
    assert source_folder(tmp_path).path == tmp_path  # a `svdistill sample` folder, or empty
    (tmp_path / "round-1").mkdir()
    assert source_folder(tmp_path).path == tmp_path / "round-1"


@pytest.mark.slow  # about 25 s, most of it importing and running the training stack
def test_one_cell_trains_and_reports_its_gain(config, sampled, tiny_model):
    pytest.importorskip("trl")
    out = sampled
    config.train.base_model = str(tiny_model)
    config.train.max_steps, config.train.batch_size = 2, 2
    config.train.dtype, config.train.gradient_checkpointing = "float32", False
    results, _ = ablate(config, out, cells=["n2-v3"], train=True, ns=(2,), vs=(3,))
    cell = out / "ablate/n2-v3"
    assert (cell / "model/config.json").exists()
    row = results["cells"][0]
    base = results["base"]["arithmetic@3"]["pass_at_1"]
    trained = row["eval"]["arithmetic@3"]
    assert trained["gain"] == pytest.approx(trained["pass_at_1"] - base)
    phases = json.loads((cell / "phases.json").read_text())
    assert list(phases) == ["sample", "verify", "curate", "train", "evaluate trained"]
    header, table = table_rows(results)
    assert "arithmetic@3 pass@1 (CI)" in header and table[0][0] == "base model"
    assert trained["vs_base"]["b"] == "base" and trained["vs_base"]["questions"] == 3
    assert "arithmetic@3 vs base (paired)" in header
