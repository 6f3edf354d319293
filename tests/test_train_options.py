"""ranker.train's options: every flag is a TrainOptions field with the dataclass's default,
and --recipe stands in for the defaults of the flags not given."""

import dataclasses

import pytest

from ranker.recipes import RECIPES
from ranker.train import TrainOptions, argument_parser, parse_args

REQUIRED = ["--data", "d", "--model", "m", "--out", "o"]


def test_no_flags_give_the_dataclass_defaults():
    assert parse_args(REQUIRED) == TrainOptions(data="d", model="m", out="o")


def test_every_option_has_its_flag():
    flags = argument_parser().format_help()
    missing = [f.name for f in dataclasses.fields(TrainOptions) if f"--{f.name.replace('_', '-')}" not in flags]
    assert missing == []


def test_recipe_with_explicit_flags_gives_the_demo_options():
    options = parse_args([*REQUIRED, "--recipe", "tiny-from-scratch", "--epochs", "9.5", "--save-steps", "500"])
    # The flags scripts/demo.sh passed before it named the recipe.
    written_out = parse_args([*REQUIRED, "--max-length", "64", "--lexical-match-weight", "1.0", "--graded-targets", "--negative-share", "0.25", "--epochs", "9.5", "--lr", "3e-3", "--batch-size", "64", "--save-steps", "500"])
    assert options == written_out
    assert (options.max_length, options.lexical_match_weight, options.graded_targets, options.negative_share, options.lr, options.batch_size) == (64, 1.0, True, 0.25, 3e-3, 64)
    assert (options.epochs, options.save_steps, options.relevant_weight, options.seed) == (9.5, 500, 1.0, 0)


def test_explicit_flags_override_the_recipe_wherever_they_stand():
    before = parse_args(["--lr", "1e-3", "--recipe", "tiny-from-scratch", *REQUIRED, "--max-length", "128"])
    assert (before.lr, before.max_length, before.negative_share) == (1e-3, 128, 0.25)


def test_a_recipe_can_build_options_in_code():
    options = TrainOptions(data="d", model="m", out="o", **{**RECIPES["tiny-from-scratch"], "epochs": 0.5})
    assert options == parse_args([*REQUIRED, "--recipe", "tiny-from-scratch", "--epochs", "0.5"])


def test_an_unknown_recipe_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args([*REQUIRED, "--recipe", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
