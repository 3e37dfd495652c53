"""The whole config: one section per phase."""

from __future__ import annotations

from pydantic import Field

from .base import Section
from .evaluation import EvaluateConfig, RunConfig
from .sampling import ModelConfig, SampleConfig, SeedsConfig
from .training import TrainConfig
from .verification import CurateConfig, VerifyConfig


class Config(Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    seeds: SeedsConfig = Field(default_factory=SeedsConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    curate: CurateConfig = Field(default_factory=CurateConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    @property
    def judge_max_tokens(self) -> int:
        """The judge's token budget, resolved here only: verify.max_tokens when set, else
        sample.max_tokens (a thinking judge cut off inside <think> casts no vote)."""
        return self.verify.max_tokens or self.sample.max_tokens
