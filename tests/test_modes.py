"""Training modes as data: which backbone groups train when, and the lookup's errors."""

import pytest

from avatar_type.errors import ParamsError
from avatar_type.train.config import TrainConfig
from avatar_type.train.modes import MODES, mode

CFG = dict(arch="mid_cnn", epochs=5, partial_groups=1, unfreeze_groups=3, head_epochs=2)


def _schedule(name: str) -> list[int | None]:
    cfg = TrainConfig(**CFG, mode=name)
    return [mode(name).trainable_groups(cfg, epoch) for epoch in range(cfg.epochs)]


@pytest.mark.parametrize(
    ("name", "schedule", "final"),
    [
        ("full", [None] * 5, None),
        ("few_shot", [None] * 5, None),
        ("partial", [1] * 5, 1),
        ("progressive", [0, 0, 3, 3, 3], 3),  # the head alone for head_epochs, then 3 groups
        ("frozen", [0] * 5, 0),
        ("linear_probe", [0] * 5, 0),
    ],
)
def test_trainable_groups_per_epoch(name, schedule, final):
    assert _schedule(name) == schedule
    assert mode(name).final_groups(TrainConfig(**CFG, mode=name)) == final


def test_mode_flags():
    frozen = {name for name, m in MODES.items() if m.frozen_features}
    assert frozen == {"frozen", "linear_probe"}
    assert [name for name, m in MODES.items() if m.sklearn_probe] == ["linear_probe"]
    assert [name for name, m in MODES.items() if m.few_shot] == ["few_shot"]
    assert [name for name, m in MODES.items() if m.scaled_backbone_lr] == ["progressive"]


def test_unknown_mode_names_it_and_the_valid_ones():
    with pytest.raises(ParamsError, match=r"models\.m\.mode: 'fine_tune' is not one of full, "):
        mode("fine_tune", "models.m.mode")
    with pytest.raises(ParamsError, match="linear_probe"):
        TrainConfig(arch="mid_cnn", mode="fine_tune").validate("models.m")
