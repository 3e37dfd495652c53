"""The run folder's config.yaml is svdistill's copy of the resolved config: a run rewrites it,
and must never replace a config the user wrote that sits in the folder given as --out."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from svdistill.cli import app
from svdistill.config import Config, is_snapshot, load_config, save_config
from svdistill.runfolder import RunFolder
from svdistill.store import RunError

MINE = "# my experiment: two questions, one sample each\nseeds:\n  limit: 2  # keep it quick\n"
SCRIPTED = ["--no-progress", "model.backend=scripted", "sample.n=1"]


@pytest.mark.parametrize("command", ["sample", "run"])
def test_out_at_the_folder_of_my_config_refuses_before_any_work(command, tmp_path):
    """Before: `svdistill sample mine/config.yaml --out mine` replaced the file with a dump."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text(MINE, encoding="utf-8")
    result = CliRunner().invoke(app, [command, str(mine / "config.yaml"), "--out", str(mine),
                                      *SCRIPTED])
    assert result.exit_code == 2, result.output
    assert "is not a config svdistill saved" in result.output
    assert (mine / "config.yaml").read_text(encoding="utf-8") == MINE
    assert sorted(p.name for p in mine.iterdir()) == ["config.yaml"]  # nothing was run


def test_a_run_rewrites_its_own_copy_and_a_rerun_resumes(tmp_path):
    run = tmp_path / "run"
    for n in ("1", "2"):
        result = CliRunner().invoke(app, ["sample", "quick", "--out", str(run), *SCRIPTED,
                                          "seeds.limit=2", f"sample.n={n}"])
        assert result.exit_code == 0, result.output
    text = (run / "config.yaml").read_text(encoding="utf-8")
    assert is_snapshot(text) and yaml.safe_load(text)["sample"]["n"] == 2
    # the copy is a config too: passing it back in as --config is allowed
    result = CliRunner().invoke(app, ["sample", str(run / "config.yaml"), "--out", str(run),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output


def test_copies_written_before_the_header_still_count_as_the_runs(tmp_path):
    old = yaml.safe_dump(Config().model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    assert is_snapshot(old)
    save_config(Config(), tmp_path / "config.yaml")
    assert is_snapshot((tmp_path / "config.yaml").read_text(encoding="utf-8"))
    assert load_config(tmp_path / "config.yaml") == Config()
    for hand_written in (MINE, "model:\n  backend: tiny\n", old.replace("\n", "  # mine\n", 1),
                         "[not, a, mapping]\n", "key: [unclosed\n"):
        assert not is_snapshot(hand_written), hand_written


def test_the_run_folder_itself_never_replaces_a_users_config(tmp_path):
    (tmp_path / "config.yaml").write_text(MINE, encoding="utf-8")
    with pytest.raises(RunError, match="is not a config svdistill saved"):
        RunFolder(tmp_path).save_config(Config())
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8") == MINE
