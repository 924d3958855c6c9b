"""The config file: a valid one is read as written; every kind of mistake is refused with
its key path and the reason, and secrets are never echoed back."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.config import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).parent.parent / "deploy" / "ungechat.example.yaml"
UNGECHAT = Path(sys.executable).with_name("ungechat")
ADMIN_TOKEN = "syt_YWRtaW4_QlTzGkWmRnHbVcXpLqJd_0a1b2c"


def valid() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    hs = data["homeservers"]["halsnaes"]
    hs["admin_token"] = ADMIN_TOKEN
    hs["appservice"]["as_token"] = "a" * 12 + "Zq93kLm0PxRt7"
    hs["appservice"]["hs_token"] = "h" * 12 + "Wv81nBc4YsQe2"
    return data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, Path("/etc/ungechat"))
    return caught.value.problems


def test_the_example_is_read_as_written(tmp_path: Path) -> None:
    config = parse_config(valid(), tmp_path)
    m = config.municipality("halsnaes")
    assert m is not None and config.municipality("atlantis") is None
    assert m.service_name == "Ungechat Halsnæs"
    assert m.channels[:2] == ("facebook", "plakat")
    assert m.questions[0].options[1].label.get("en") == "A poster or a card"
    assert m.youth_texts()["help_now"].get("da").endswith("i åbningstiden.")
    # No English of its own: the page falls back to Danish rather than showing nothing.
    assert m.youth_texts()["help_now"].get("en") == m.youth_texts()["help_now"].get("da")
    assert "Halsnæs" in m.youth_texts()["intro"].get("da")
    assert m.youth_url(config.public_url) == "https://chat.halsnaes.dk/k/halsnaes"
    assert config.database == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'ungechat.db'}"
    hs = config.homeservers["halsnaes"]
    assert hs.registration_file == tmp_path / "ungechat-registration.yaml"
    reg = hs.registration()
    assert reg.bot_user_id == "@ungechat:halsnaes.dk"
    assert reg.url == "http://127.0.0.1:8080"


def test_the_example_as_shipped_is_refused_for_its_placeholders() -> None:
    problems = problems_of(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    assert sorted(p.split(":")[0] for p in problems) == [
        "homeservers.halsnaes.admin_token",
        "homeservers.halsnaes.appservice.as_token",
        "homeservers.halsnaes.appservice.hs_token",
    ]
    assert all("placeholder" in p and "CHANGE_ME" not in p for p in problems)


def test_postgresql_urls_get_the_async_driver(tmp_path: Path) -> None:
    data = valid()
    data["database"] = "postgresql://ungechat@db.internal/ungechat"
    assert parse_config(data, tmp_path).database == (
        "postgresql+asyncpg://ungechat@db.internal/ungechat"
    )
    data["database"] = "sqlite:////var/lib/ungechat/bot.db"
    assert parse_config(data, tmp_path).database == "sqlite+aiosqlite:////var/lib/ungechat/bot.db"


def mistake(change, expected_path: str, expected_reason: str):
    return pytest.param(change, expected_path, expected_reason, id=expected_path)


def municipality(data: dict[str, Any]) -> dict[str, Any]:
    return data["municipalities"][0]


MISTAKES = [
    mistake(lambda d: d.pop("public_url"), "public_url", "is required"),
    mistake(lambda d: d.update(publik_url="x"), "publik_url", "unknown key"),
    mistake(
        lambda d: municipality(d).update(slug="Halsnæs"),
        "municipalities[0].slug",
        "'Halsnæs' does not have the expected form",
    ),
    mistake(
        lambda d: municipality(d).update(homeserver="kbh"),
        "municipalities[0].homeserver",
        "'kbh' is not one of the homeservers (halsnaes)",
    ),
    mistake(
        lambda d: municipality(d)["opening_hours"]["weekly"].update(monday=["21:00-18:00"]),
        "municipalities[0].opening_hours.weekly.monday[0]",
        "the end must be after the start",
    ),
    mistake(
        lambda d: municipality(d)["opening_hours"]["weekly"].update(monday=["18-21"]),
        "municipalities[0].opening_hours.weekly.monday[0]",
        "'18-21' does not have the expected form",
    ),
    mistake(
        lambda d: municipality(d)["opening_hours"]["weekly"].update(mandag=["18:00-21:00"]),
        "municipalities[0].opening_hours.weekly.mandag",
        "unknown key",
    ),
    mistake(
        lambda d: municipality(d)["opening_hours"]["exceptions"].update({"2026-02-30": []}),
        "municipalities[0].opening_hours.exceptions.2026-02-30",
        "is not a date",
    ),
    mistake(
        lambda d: municipality(d).update(opening_hours={}),
        "municipalities[0].opening_hours",
        "give always_open: true or weekly hours",
    ),
    mistake(
        lambda d: municipality(d).update(counsellors=["anna@halsnaes.dk"]),
        "municipalities[0].counsellors[0]",
        "'anna@halsnaes.dk' does not have the expected form",
    ),
    mistake(
        lambda d: municipality(d).update(channels=["facebook", "ukendt"]),
        "municipalities[0].channels[1]",
        "'ukendt' is reserved",
    ),
    mistake(
        lambda d: municipality(d)["questions"][0]["options"].append(
            {"id": "facebook", "da": "igen"}
        ),
        "municipalities[0].questions[0].options[5].id",
        "'facebook' is used twice",
    ),
    mistake(
        lambda d: municipality(d)["questions"][0].pop("options"),
        "municipalities[0].questions[0].options",
        "is required",
    ),
    mistake(
        lambda d: d["municipalities"].append(copy.deepcopy(municipality(d))),
        "municipalities[1].slug",
        "'halsnaes' is used by two municipalities",
    ),
    mistake(
        lambda d: d["homeservers"]["halsnaes"]["appservice"].update(as_token="kort"),
        "homeservers.halsnaes.appservice.as_token",
        "(the value is hidden)",
    ),
    mistake(
        lambda d: d.update(listen={"host": "0.0.0.0", "port": "8080"}),
        "listen.port",
        "'8080' should be of type integer",
    ),
    mistake(
        lambda d: municipality(d)["texts"].update(help_now={"en": "only English"}),
        "municipalities[0].texts.help_now.da",
        "is required",
    ),
    mistake(
        lambda d: d.update(network=["kk.dk", "ikke et navn"]),
        "network[1]",
        "'ikke et navn' is not a Matrix server name",
    ),
    mistake(
        lambda d: d.update(database="mysql://root@localhost/x"),
        "database",
        "'mysql://root@localhost/x' does not have the expected form",
    ),
]


@pytest.mark.parametrize(("change", "path", "reason"), MISTAKES)
def test_each_mistake_is_named_by_key_path(change, path: str, reason: str) -> None:
    data = valid()
    change(data)
    problems = problems_of(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: "), problems
    assert reason in problems[0], problems
    assert ADMIN_TOKEN not in problems[0]


def test_several_mistakes_are_all_named() -> None:
    data = valid()
    data.pop("public_url")
    municipality(data)["slug"] = "Æ"
    problems = problems_of(data)
    assert [p.split(":")[0] for p in problems] == ["municipalities[0].slug", "public_url"]


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("public_url: https://x.dk\nhomeservers: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "line 3" in caught.value.problems[0] and "not valid YAML" in caught.value.problems[0]


def test_check_config_command(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(valid(), allow_unicode=True), encoding="utf-8")
    ok = subprocess.run([UNGECHAT, "check-config", good], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "halsnaes: Halsnæs Kommune on halsnaes, 2 counsellors" in ok.stdout

    bad_data = valid()
    municipality(bad_data)["homeserver"] = "kbh"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(bad_data, allow_unicode=True), encoding="utf-8")
    before = bad.read_bytes()
    refused = subprocess.run([UNGECHAT, "check-config", bad], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "municipalities[0].homeserver: 'kbh' is not one of the homeservers" in refused.stderr
    assert bad.read_bytes() == before  # never written back


def test_run_refuses_an_invalid_config_before_starting_anything(tmp_path: Path) -> None:
    bad_data = valid()
    bad_data["listen"] = {"host": "127.0.0.1", "port": 0}
    bad_data["database"] = "sqlite:///bot.db"
    municipality(bad_data)["opening_hours"]["weekly"]["monday"] = ["25:00-26:00"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(bad_data, allow_unicode=True), encoding="utf-8")
    refused = subprocess.run([UNGECHAT, "run", "-c", bad], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "municipalities[0].opening_hours.weekly.monday[0]" in refused.stderr
    assert "nothing was started" in refused.stderr
    assert not (tmp_path / "bot.db").exists()


def test_the_network_federates_with_its_members_only(tmp_path: Path) -> None:
    from provisioning.report import registration_notes

    data = valid()
    data["network"] = ["matrix.kk.dk", "chat.aarhus.dk:8448"]
    config = parse_config(data, tmp_path)
    assert config.network_server_names() == ["halsnaes.dk", "matrix.kk.dk", "chat.aarhus.dk:8448"]
    notes = registration_notes(config)
    whitelist = yaml.safe_load(notes[notes.index("federation_domain_whitelist") :])
    assert whitelist["federation_domain_whitelist"] == config.network_server_names()
