"""`ungechat init`: a starting config for any of the 98 municipalities that passes
validation as soon as the admin token is in, and that never replaces an existing file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bots.config.kommuner import all_kommuner
from bots.config.load import ConfigError, load_config
from tests.provisioning_helpers import run_command

ADMIN_TOKEN = "syt_YWRtaW4_aQ3dKx9LmPz2RtVb_4c5d6e"


def ungechat(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_command(*argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_writes_a_config_that_needs_only_the_admin_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ungechat.yaml"
    code, out, _ = ungechat(capsys, "init", "--kommune", "halsnaes", "-o", str(path))
    assert code == 0 and "put a Synapse admin access token in admin_token" in out
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the appservice tokens
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert [p.split(":")[0] for p in refused.value.problems] == ["homeservers.halsnaes.admin_token"]

    path.write_text(path.read_text().replace("CHANGE_ME_synapse_admin_access_token", ADMIN_TOKEN))
    code, out, _ = ungechat(capsys, "check-config", str(path))
    assert code == 0
    assert (
        "halsnaes: Halsnæs Kommune on halsnaes, 0 counsellors, 9 channels, 2 questions, "
        "weekly hours" in out
    )
    m = load_config(path).municipalities[0]
    assert m.channels[:3] == ("facebook", "instagram", "plakat")
    assert [q.text.get("da") for q in m.questions] == [
        "Hvor har du hørt om chatten?",
        "Hvor gammel er du?",
    ]
    assert m.opening_hours.weekly_summary()[0] == ("mandag", "18–21")
    assert "Halsnæs" in m.youth_texts()["intro"].get("da")


def test_init_with_the_admin_token_passes_check_config_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rksk.yaml"
    code, _, _ = ungechat(
        capsys,
        "init",
        "--kommune",
        "ringkoebing-skjern",
        "-o",
        str(path),
        "--admin-token",
        ADMIN_TOKEN,
        "--server-name",
        "rksk.dk",
        "--public-url",
        "https://ungechat.rksk.dk/",
    )
    assert code == 0
    assert ungechat(capsys, "check-config", str(path))[0] == 0
    config = load_config(path)
    assert config.public_url == "https://ungechat.rksk.dk"
    assert config.homeservers["ringkoebing-skjern"].server_name == "rksk.dk"
    assert config.municipalities[0].name == "Ringkøbing-Skjern Kommune"


def test_init_never_replaces_a_file_and_tokens_are_new_each_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert ungechat(capsys, "init", "--kommune", "aeroe", "-o", str(first))[0] == 0
    before = first.read_bytes()
    code, _, err = ungechat(capsys, "init", "--kommune", "aeroe", "-o", str(first))
    assert code == 2 and "exists already" in err
    assert first.read_bytes() == before
    assert ungechat(capsys, "init", "--kommune", "aeroe", "-o", str(second))[0] == 0
    tokens = [
        yaml.safe_load(p.read_text())["homeservers"]["aeroe"]["appservice"]["as_token"]
        for p in (first, second)
    ]
    assert tokens[0] != tokens[1] and all(len(t) >= 40 for t in tokens)


def test_init_refuses_an_unknown_municipality_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.yaml"
    code, _, err = ungechat(capsys, "init", "--kommune", "ringkobing-skjern", "-o", str(path))
    assert code == 2
    assert "Did you mean 'ringkoebing-skjern' (Ringkøbing-Skjern Kommune)?" in err
    assert not path.exists()


def test_every_municipality_gets_a_valid_starting_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for k in all_kommuner():
        path = tmp_path / f"{k.slug}.yaml"
        argv = ["init", "--kommune", k.slug, "-o", str(path), "--admin-token", ADMIN_TOKEN]
        assert run_command(*argv) == 0
        config = load_config(path)
        assert config.municipalities[0].name == k.official_name
    capsys.readouterr()
