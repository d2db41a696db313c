"""Every params.yaml section loads through one helper, whose errors name file, section and key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from avatar_type.bench.measure import BenchSettings
from avatar_type.errors import ParamsError
from avatar_type.explain.run import ExplainConfig
from avatar_type.params import load_yaml, section
from avatar_type.runs import TrainSettings
from avatar_type.stages.aggregate import AggregateSettings
from avatar_type.stages.denoise import DenoiseConfig
from avatar_type.stages.ensemble import EnsembleConfig
from avatar_type.stages.evaluate import EvaluateConfig
from avatar_type.stages.report import ReportConfig
from avatar_type.stages.split import SplitConfig
from avatar_type.train.config import TrainConfig, model_config

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"
SECTIONS = {
    "seed": int,
    "aggregate": AggregateSettings,
    "denoise": DenoiseConfig,
    "split": SplitConfig,
    "train": TrainSettings,
    "evaluate": EvaluateConfig,
    "ensemble": EnsembleConfig,
    "explain": ExplainConfig,
    "report": ReportConfig,
    "benchmark": BenchSettings,
}


@dataclass(frozen=True)
class Demo:
    count: int
    share: float
    flag: bool
    name: str | None = None


def test_every_section_of_params_yaml_loads():
    params = load_yaml(PARAMS)
    assert set(params) == {*SECTIONS, "models"}
    for name, cls in SECTIONS.items():
        assert isinstance(section(params, name, cls, str(PARAMS)), cls)
    for model in params["models"]:
        assert isinstance(model_config(params, model, str(PARAMS)), TrainConfig)


def test_a_section_becomes_its_frozen_dataclass():
    raw = {"demo": {"count": 3, "share": 1, "flag": True}}
    cfg = section(raw, "demo", Demo, "p.yaml")
    assert cfg == Demo(count=3, share=1, flag=True)
    with pytest.raises(AttributeError):
        cfg.count = 4  # type: ignore[misc]


GOOD = {"count": 3, "share": 0.5, "flag": True}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**GOOD, "colour": 1}, r"p\.yaml: demo: unknown keys \['colour'\]"),
        ({"share": 0.5, "flag": True}, r"p\.yaml: demo: missing key 'count'"),
        ({**GOOD, "count": 3.5}, r"p\.yaml: demo\.count: expected int, got 3\.5"),
        ({**GOOD, "count": True}, r"p\.yaml: demo\.count: expected int, got True"),
        ({**GOOD, "flag": 1}, r"p\.yaml: demo\.flag: expected bool, got 1"),
        ({**GOOD, "share": "1e-3"}, r"p\.yaml: demo\.share: .*write 0\.001"),
        ({**GOOD, "name": 2}, r"p\.yaml: demo\.name: expected str or null"),
    ],
)
def test_bad_keys_name_the_file_the_section_and_the_key(raw, message):
    with pytest.raises(ParamsError, match=message):
        section({"demo": raw}, "demo", Demo, "p.yaml")


def test_missing_sections_and_nested_keys_are_named():
    with pytest.raises(ParamsError, match=r"p\.yaml: no section 'demo'"):
        section({}, "demo", Demo, "p.yaml")
    with pytest.raises(ParamsError, match=r"p\.yaml: models has no entry 'x'"):
        section({"models": {}}, "models.x", TrainConfig, "p.yaml")
    with pytest.raises(ParamsError, match=r"p\.yaml: seed: expected int, got 'a'"):
        section({"seed": "a"}, "seed", int, "p.yaml")


def test_nested_dataclasses_and_range_checks_name_their_path():
    params = load_yaml(PARAMS)
    params["aggregate"]["audit_augment"] = {"blur_p": 2.0}
    with pytest.raises(ParamsError, match=r"p\.yaml: aggregate\.audit_augment\.blur_p"):
        section(params, "aggregate", AggregateSettings, "p.yaml")
    params["explain"]["top_fraction"] = 1.5
    with pytest.raises(ParamsError, match=r"p\.yaml: explain\.top_fraction"):
        section(params, "explain", ExplainConfig, "p.yaml")
