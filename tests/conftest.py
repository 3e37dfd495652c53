"""Shared fixtures. Tests never touch a model hub: HF_HUB_OFFLINE is forced here."""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from svdistill.config import Config, load_config  # noqa: E402


@pytest.fixture
def config() -> Config:
    """Defaults on the scripted backend with a handful of built-in seeds."""
    return load_config(None, ["model.backend=scripted", "seeds.limit=6", "sample.n=3"])


def embedded_tokenizer():
    """The embedded model's tokenizer and chat template, from the converted folder if present."""
    from transformers import AutoTokenizer

    from svdistill.backends import embedded

    folder = embedded.cache_dir() / f"{embedded.EMBEDDED_NAME}-hf"
    if (folder / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(folder))
    try:
        gguf = embedded.embedded_gguf()
    except embedded.ModelFilesMissing as exc:
        pytest.skip(f"embedded model packages not installed: {exc}")
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def save_tiny_model(tokenizer, path):
    """A randomly initialised 2-layer Qwen2 (hidden size 32) with `tokenizer`: a model that
    loads, trains and generates in seconds, for wiring tests (its text is noise)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The tiny random Qwen2 with the embedded model's real tokenizer and chat template."""
    pytest.importorskip("transformers")
    return save_tiny_model(embedded_tokenizer(), tmp_path_factory.mktemp("tiny") / "model")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def openai_server(command: list[str], name: str, log_dir, port: int,
                  start_timeout_s: float = 120, env: dict | None = None):
    """An OpenAI-compatible server started by `command` on 127.0.0.1:`port`; yields its base
    URL and process once /v1/models lists a model, and stops it afterwards. Its output goes to
    LOG_DIR/server.log (a file: a full pipe would stall the server)."""
    import json
    import subprocess
    import time
    import urllib.request

    log = open(log_dir / "server.log", "w+b")  # noqa: SIM115
    # its own process group, so that a test can kill the server with every child it started
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + start_timeout_s
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"{name} exited: {log.read().decode()[-3000:]}")
            if time.time() > deadline:
                pytest.fail(f"{name} did not start within {start_timeout_s:.0f} s")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as reply:
                    if json.loads(reply.read())["data"]:
                        break
            except OSError:
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def llama_server(gguf, alias: str, log_dir, *args: str, start_timeout_s: float = 120):
    """llama-cpp-python's OpenAI-compatible server on `gguf`, on 127.0.0.1 at a free port, as
    `alias`; yields its base URL and stops it afterwards. `args`: more server options."""
    import sys

    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
               "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port), *args]
    with openai_server(command, "llama_cpp.server", log_dir, port, start_timeout_s) as (url, _):
        yield url


@pytest.fixture(scope="session")
def tiny_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on the tiny GGUF (SmolLM2-135M), on 127.0.0.1;
    yields (base URL, model name). Its replies depend on the order of requests, even seeded ones
    (see faultproxy's `fresh`). One thread: on a busy CI machine, llama.cpp's spinning worker
    threads are several times slower than one thread."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    from svdistill.backends import embedded

    try:
        gguf = embedded.tiny_gguf()
    except embedded.ModelFilesMissing as exc:
        pytest.skip(f"tiny model package not installed: {exc}")
    with llama_server(gguf, "tiny", tmp_path_factory.mktemp("tiny-server"), "--n_ctx", "2048",
                      "--n_threads", "1", "--n_threads_batch", "1") as url:
        yield url, "tiny"


class RunArtifacts:
    """Reads a finished run folder back for comparing two runs that should agree."""

    #: Differ between two runs by design: clocks and memory peaks, and calls paid in this
    #: process versus reused from the call store.
    VOLATILE = frozenset({
        "latency_s", "wall_s", "elapsed_s", "created", "train_s", "s_per_step", "train_runtime",
        "train_samples_per_second", "train_steps_per_second", "engine_tokens_per_s",
        "peak_rss_mib", "peak_gpu_mib", "paid", "paid_calls", "cached_calls",
        "completion_tokens_paid",
    })
    #: Whole files of that kind (the call store is compared apart: its order is arrival order).
    SKIP = ("timings.json", "round-1/calls.jsonl", "round-1/train/trainer_state.json")
    #: Copied from the base model, 11 MB each: compared as bytes, not parsed.
    AS_BYTES = "tokenizer.json"
    #: Append-only logs: a process killed mid-append leaves a torn last line, which their
    #: readers drop (and the next writer repairs or starts afresh). Every other file is
    #: written atomically and must always parse whole.
    APPENDED = ("calls.jsonl", "log.jsonl")

    @classmethod
    def parse_all(cls, root, torn_logs: bool = False):
        """Every JSON and JSONL file under `root` (but AS_BYTES), parsed (a torn or partial file
        fails here; with `torn_logs`, an APPENDED log may end in a torn line, left out), keyed
        by relative path; the temporary files of atomic writes (hidden names) left out."""
        import json

        parsed = {}
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if (any(part.startswith(".") for part in rel.parts) or not path.is_file()
                    or path.name == cls.AS_BYTES):
                continue
            if path.suffix == ".json":
                parsed[str(rel)] = json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".jsonl":
                lines, tail = cls._lines(path)
                assert not tail or (torn_logs and path.name in cls.APPENDED), f"{rel}: torn"
                parsed[str(rel)] = [json.loads(line) for line in lines]
        return parsed

    @staticmethod
    def _lines(path) -> tuple[list[str], str]:
        """(whole lines, torn tail or ""). Split on newlines only, not `splitlines`: a JSON
        string may hold U+2028 and the other characters that also count as line ends."""
        *lines, tail = path.read_text(encoding="utf-8").split("\n")
        return [line for line in lines if line.strip()], tail

    def compared(self, root, aliases: dict[str, str] | None = None):
        """The artifacts of a run without what legitimately differs between two runs; strings
        have the run folder (and any `aliases` key, such as a server URL) replaced by a name."""
        names = {str(root): "RUN", **(aliases or {})}

        def strip(value):
            if isinstance(value, dict):
                if isinstance(value.get("target_modules"), list):  # peft saves a set unordered
                    value["target_modules"] = sorted(value["target_modules"])
                return {k: strip(v) for k, v in value.items() if k not in self.VOLATILE}
            if isinstance(value, list):
                return [strip(v) for v in value]
            if isinstance(value, str):
                for text, name in names.items():
                    value = value.replace(text, name)
            return value

        return {rel: strip(value) for rel, value in self.parse_all(root).items()
                if rel not in self.SKIP}

    def differences(self, got_root, want_root, aliases: dict[str, str] | None = None,
                    skip: tuple[str, ...] = ()):
        """Paths of the artifacts that differ (or exist in one run only), but for `skip`."""
        got, want = self.compared(got_root, aliases), self.compared(want_root, aliases)
        for root, files in ((got_root, got), (want_root, want)):
            for path in root.rglob(self.AS_BYTES):
                files[str(path.relative_to(root))] = path.read_bytes()
        return sorted(rel for rel in set(got) | set(want)
                      if rel not in skip and got.get(rel) != want.get(rel))

    @staticmethod
    def calls(root) -> list[tuple[str, str]]:
        """(key, reply text) of every whole row of round 1's call store, in file order."""
        import json

        path = root / "round-1" / "calls.jsonl"
        if not path.exists():
            return []
        whole, _ = RunArtifacts._lines(path)  # a torn tail is no call
        return [(row["key"], row["text"]) for row in map(json.loads, whole)]

    @staticmethod
    def weights(root):
        from safetensors.torch import load_file

        return load_file(str(root / "round-1" / "model" / "model.safetensors"))

    def same_weights(self, got_root, want_root) -> bool:
        got, want = self.weights(got_root), self.weights(want_root)
        return got.keys() == want.keys() and all(got[k].equal(want[k]) for k in want)


@pytest.fixture
def run_artifacts() -> RunArtifacts:
    """Parse and compare the artifacts of `svdistill run` folders (see RunArtifacts)."""
    return RunArtifacts()
