"""The CLI's argument handling: usage errors exit 1 (2 is `plan`'s "changes pending"), help
texts describe every command, and a missing region names every way to give one."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from sd_operator.cli import EXIT_ERROR, EXIT_OK, main
from sd_operator.cli.parser import build_parser
from sd_operator.settings import OperatorSettings, SettingsError, add_common_flags, settings_from

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NAMESPACE = """\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {name: api}
spec: {name: api, type: Http}
"""


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["plan"],
        ["plan", "-f", "x.yaml", "-o", "yaml"],
        ["apply", "-f", "x.yaml", "--timeout", "soon"],
        ["run", "--namespace", "a", "--all-namespaces"],
        ["run", "--peering-lifetime", "0"],
        ["run", "--import-exclude-cidrs", "10.96.0.0/12,not-a-range"],
    ],
    ids=[
        "no-command",
        "unknown-command",
        "missing-f",
        "bad-output",
        "bad-timeout",
        "exclusive",
        "peering-lifetime-0",
        "bad-cidr",
    ],
)
def test_usage_errors_exit_1(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == EXIT_ERROR
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["run"], ["plan"], ["apply"], ["delete"], ["emulator"]])
def test_help_exits_0(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*command, "--help"])
    assert caught.value.code == EXIT_OK
    assert "usage: sd-operator" in capsys.readouterr().out


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    # argparse wraps to the terminal width; compare words, not lines.
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("run", "Run the operator: watch CloudMapNamespace and ServiceDiscovery resources"),
        ("demo", "The guided demo: start a local AWS emulator"),
        ("emulator", "Serve the local AWS emulator"),
    ],
)
def test_commands_have_a_description(
    command: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert words in help_text(command, capsys)


def test_plan_help_explains_output_and_filename(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text("plan", capsys)
    assert "json: one versioned document (docs/plan.schema.json)" in text
    assert "markdown: a pull-request comment" in text
    assert "directory (searched recursively for *.yaml / *.yml)" in text
    assert "- for standard input" in text


def test_apply_help_explains_filename(capsys: pytest.CaptureFixture[str]) -> None:
    assert "- for standard input" in help_text("apply", capsys)


@pytest.fixture
def no_region_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


@pytest.mark.usefixtures("no_region_env")
def test_missing_region_names_both_environment_variables() -> None:
    parser = argparse.ArgumentParser()
    add_common_flags(parser)
    with pytest.raises(SettingsError) as caught:
        settings_from(parser.parse_args([]), os.environ)
    assert str(caught.value) == (
        "no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)"
    )


@pytest.mark.usefixtures("no_region_env")
def test_region_fallback_serves_only_when_nothing_else_names_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser = argparse.ArgumentParser()
    add_common_flags(parser)
    args = parser.parse_args([])
    assert settings_from(args, os.environ, fallback_region="eu-west-1").aws.region == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert settings_from(args, os.environ, fallback_region="eu-west-1").aws.region == "us-west-2"


@pytest.mark.usefixtures("no_region_env")
@pytest.mark.parametrize(
    ("region", "accepted"),
    [("us-east-1", True), ("us-gov-west-1", True), ("us-east-123", False), ("US-east-1", False)],
)
def test_region_flag_takes_what_spec_region_takes(region: str, accepted: bool) -> None:
    # One definition of a region name: the CRDs' spec.region pattern.
    parser = argparse.ArgumentParser()
    add_common_flags(parser)
    args = parser.parse_args(["--region", region])
    if accepted:
        assert settings_from(args, os.environ).aws.region == region
    else:
        with pytest.raises(SettingsError, match="is not an AWS region name"):
            settings_from(args, os.environ)


@pytest.mark.usefixtures("no_region_env")
def test_cli_without_any_region_says_how_to_give_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text(NAMESPACE)
    assert main(["plan", "-f", str(path)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)" in err
    assert "spec.region" in err


@pytest.mark.usefixtures("no_region_env")
def test_manifest_errors_come_before_the_region_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text(NAMESPACE.replace("type: Http", "type: Nope"))
    assert main(["plan", "-f", str(path)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "spec.type" in err
    assert "region" not in err


@pytest.mark.parametrize(
    "command",
    [
        "run",
        "plan",
        "apply",
        "delete",
        "refresh",
        "pause",
        "resume",
        "completion",
        "demo",
        "emulator",
    ],
)
def test_every_verb_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(command, capsys)
    examples = text.partition("examples: ")[2]
    assert f"sd-operator {command}" in examples, text


def test_version_and_completion(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("sd-operator ")
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "refresh" in script
    assert "--from-cluster" in script


def run_settings(argv: list[str]) -> OperatorSettings:
    """What `sd-operator run ARGV` hands the operator, without starting it."""
    args = build_parser().parse_args(["run", "--region", "us-east-1", *argv])
    return settings_from(args, os.environ).operator


@pytest.mark.parametrize(
    ("argv", "env", "seconds"),
    [
        ([], None, 60.0),
        (["--sweep-seconds", "5"], None, 5.0),
        ([], "7", 7.0),
        (["--sweep-seconds", "5"], "7", 5.0),
    ],
    ids=["default", "flag", "env", "flag-over-env"],
)
def test_sweep_seconds_from_flag_or_environment(
    argv: list[str],
    env: str | None,
    seconds: float,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if env is None:
        monkeypatch.delenv("SD_OPERATOR_SWEEP_SECONDS", raising=False)
    else:
        monkeypatch.setenv("SD_OPERATOR_SWEEP_SECONDS", env)
    assert run_settings(argv).sweep_seconds == seconds
    assert "deprecated" not in capsys.readouterr().err


def test_the_deprecated_resync_seconds_flag_still_sets_the_sweep_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SD_OPERATOR_SWEEP_SECONDS", raising=False)
    assert run_settings(["--resync-seconds", "5"]).sweep_seconds == 5.0
    err = capsys.readouterr().err
    assert "--resync-seconds is deprecated; use --sweep-seconds" in err


@pytest.mark.parametrize(
    ("argv", "env", "seconds"),
    [([], None, 60), (["--peering-lifetime", "10"], None, 10), ([], "12", 12)],
    ids=["default", "flag", "env"],
)
def test_peering_lifetime_from_flag_or_environment(
    argv: list[str], env: str | None, seconds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv("SD_OPERATOR_PEERING_LIFETIME", raising=False)
    else:
        monkeypatch.setenv("SD_OPERATOR_PEERING_LIFETIME", env)
    assert run_settings(argv).peering.lifetime == seconds


@pytest.mark.parametrize("verb", ["pause", "resume"])
@pytest.mark.parametrize(
    ("argv", "error"),
    [
        ([], "name the resources, or give --all (not both)"),
        (["web", "--all"], "name the resources, or give --all (not both)"),
        (["web", "-A"], "-A goes with --all"),
    ],
)
def test_pause_and_resume_refuse_an_unclear_selection_before_any_cluster_call(
    verb: str, argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([verb, "sd", *argv, "--kubeconfig", "/nonexistent"]) == EXIT_ERROR
    assert capsys.readouterr().err == f"error: {error}\n"
