"""The stage entry point: user errors end in one line and exit 1; anything else keeps its
traceback."""

import pytest

from avatar_type.errors import InputError, MissingInputError, ParamsError, SourceError
from avatar_type.runner import run


def _raise(exc: Exception):
    def main() -> None:
        raise exc

    return main


@pytest.mark.parametrize(
    "exc",
    [
        ParamsError("models.m.mode: 'x' is not one of full"),
        SourceError("s", "archive not found"),
        InputError("data/x: index has 3 rows but 2 images"),
        MissingInputError("data/x/images.npy: missing"),
    ],
)
def test_project_error_prints_one_line_and_exits_1(exc, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(_raise(exc))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == f"error: {exc}\n"
    assert "Traceback" not in err


def test_other_errors_propagate_with_their_traceback():
    with pytest.raises(ValueError, match="operands could not be broadcast") as info:
        run(_raise(ValueError("operands could not be broadcast together")))
    assert info.traceback  # not swallowed into one line


@pytest.mark.parametrize(
    ("exc", "builtin"),
    [
        (ParamsError("p"), ValueError),
        (SourceError("s", "m"), ValueError),
        (InputError("i"), ValueError),
        (MissingInputError("f"), FileNotFoundError),
    ],
)
def test_project_errors_are_still_their_builtin(exc, builtin):
    """Callers and tests that catch the builtin a project error replaced keep working."""
    assert isinstance(exc, builtin)
