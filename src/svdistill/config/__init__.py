"""Typed settings for every phase, loaded from one YAML file plus `key.sub=value` overrides.

Unknown keys are errors that name the key, so a typo never silently runs the default. The
resolved config is saved into every run folder (`config.yaml`).

One module per part: `base` (what every section shares, the bounds), the sections by phase
(`sampling`, `verification`, `training`, `evaluation`), `settings` (the whole `Config`),
`safe_yaml` (YAML without duplicate keys or alias bombs), `overrides`, `loading` and
`snapshot` (the copy saved in the run folder).
"""

from .base import MAX_COUNT, MAX_SECONDS, MAX_SEED, MAX_TOKENS, Section
from .evaluation import BenchmarkColumns, EvaluateConfig, RunConfig
from .loading import load_config
from .overrides import parse_override
from .safe_yaml import MAX_YAML_VALUES, load_yaml
from .sampling import ModelConfig, SampleConfig, SeedsConfig
from .settings import Config
from .snapshot import is_snapshot, save_config
from .training import TrainConfig
from .verification import CurateConfig, VerifyConfig

__all__ = [
    "MAX_COUNT", "MAX_SECONDS", "MAX_SEED", "MAX_TOKENS", "MAX_YAML_VALUES", "BenchmarkColumns",
    "Config", "CurateConfig", "EvaluateConfig", "ModelConfig", "RunConfig", "SampleConfig",
    "Section", "SeedsConfig", "TrainConfig", "VerifyConfig", "is_snapshot", "load_config",
    "load_yaml", "parse_override", "save_config",
]
