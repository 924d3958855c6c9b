"""The config file: a valid one is read as written; every kind of mistake is refused with
its key path and the reason, and secrets are never echoed back."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.config.checks import PATTERN_WORDS, config_schema
from bots.config.load import ConfigError, load_config, parse_config

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
    assert m.embed_origins == ("https://www.halsnaes.dk", "https://ukc.halsnaes.dk")
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


def mistake(change, path: str, value: str | None, rule: str):
    """One mistake and the line it must give: 'path: value rule…'. `value` is the value as
    shown (None for a key that is missing or not known: there is no value to show)."""
    return pytest.param(change, path, value, rule, id=path)


def municipality(data: dict[str, Any]) -> dict[str, Any]:
    return data["municipalities"][0]


def rename_homeserver(data: dict[str, Any], new: str) -> None:
    data["homeservers"][new] = data["homeservers"].pop("halsnaes")


MISTAKES = [
    mistake(lambda d: d.pop("public_url"), "public_url", None, "is required"),
    mistake(lambda d: d.update(publik_url="x"), "publik_url", None, "did you mean 'public_url'?"),
    mistake(
        lambda d: municipality(d)["opening_hours"]["weekly"].update(mandag=["18:00-21:00"]),
        "municipalities[0].opening_hours.weekly.mandag",
        None,
        "unknown key; did you mean 'monday'?",
    ),
    mistake(
        lambda d: municipality(d)["questions"][0].pop("options"),
        "municipalities[0].questions[0].options",
        None,
        "is required",
    ),
    mistake(
        lambda d: municipality(d)["texts"].update(help_now={"en": "only English"}),
        "municipalities[0].texts.help_now.da",
        None,
        "is required",
    ),
    # A wrong form: the value, and the form wanted in words (not the schema's description).
    mistake(
        lambda d: municipality(d).update(slug="Halsnæs"),
        "municipalities[0].slug",
        "'Halsnæs'",
        "should be lowercase letters a–z and digits, words joined by single '-'",
    ),
    mistake(
        lambda d: municipality(d)["opening_hours"]["weekly"].update(monday=["18-21"]),
        "municipalities[0].opening_hours.weekly.monday[0]",
        "'18-21'",
        "should be a time range like '18:00-21:00'",
    ),
    mistake(
        lambda d: municipality(d).update(counsellors=["anna@halsnaes.dk"]),
        "municipalities[0].counsellors[0]",
        "'anna@halsnaes.dk'",
        "should be a Matrix user id like '@anna:halsnaes.dk'",
    ),
    mistake(
        lambda d: d.update(database="mysql://root@localhost/x"),
        "database",
        "'mysql://root@localhost/x'",
        "should be a database URL starting with sqlite:// or postgresql://",
    ),
    mistake(
        lambda d: d["homeservers"]["halsnaes"].update(url="matrix.halsnaes.dk"),
        "homeservers.halsnaes.url",
        "'matrix.halsnaes.dk'",
        "should be an address starting with https:// (or http://)",
    ),
    mistake(
        lambda d: d.update(public_url="https://chat.halsnaes.dk/k/halsnaes"),
        "public_url",
        "'https://chat.halsnaes.dk/k/halsnaes'",
        "should be an address with nothing after the host name",
    ),
    mistake(
        lambda d: municipality(d).update(campaign={"color": "grøn"}),
        "municipalities[0].campaign.color",
        "'grøn'",
        "should be a colour written as # and six hex digits",
    ),
    mistake(
        lambda d: rename_homeserver(d, "Halsnaes"),
        "homeservers.Halsnaes",
        "the key 'Halsnaes'",
        "should be a short id: at most 32 lowercase letters",
    ),
    mistake(
        lambda d: municipality(d)["opening_hours"]["exceptions"].update({"24-12-2026": []}),
        "municipalities[0].opening_hours.exceptions.24-12-2026",
        "the key '24-12-2026'",
        "should be a date written YYYY-MM-DD",
    ),
    mistake(
        lambda d: municipality(d).update(channels=["facebook", "ukendt"]),
        "municipalities[0].channels[1]",
        "'ukendt'",
        "'ukendt' is reserved",
    ),
    mistake(
        lambda d: municipality(d).update(embed_origins=["https://www.halsnaes.dk/ungdom"]),
        "municipalities[0].embed_origins[0]",
        "'https://www.halsnaes.dk/ungdom'",
        "should be a site's origin: https:// and the host name in lowercase, with no path",
    ),
    mistake(
        lambda d: municipality(d).update(embed_origins=["www.halsnaes.dk"]),
        "municipalities[0].embed_origins[0]",
        "'www.halsnaes.dk'",
        "should be a site's origin",
    ),
    # A wrong kind of value, in plain words.
    mistake(
        lambda d: d.update(listen={"host": "0.0.0.0", "port": "8080"}),
        "listen.port",
        "'8080'",
        "should be a whole number",
    ),
    mistake(
        lambda d: municipality(d).update(fictional="yes"),
        "municipalities[0].fictional",
        "'yes'",
        "should be true or false",
    ),
    mistake(lambda d: d.update(public_url=None), "public_url", "(empty)", "should be text"),
    mistake(
        lambda d: municipality(d)["texts"].update(help_now=5),
        "municipalities[0].texts.help_now",
        "5",
        "should be text or a mapping",
    ),
    mistake(
        lambda d: d.update(
            sparring_rooms=[
                {"id": "net", "name": "Net", "homeserver": "halsnaes", "municipalities": "alle"}
            ]
        ),
        "sparring_rooms[0].municipalities",
        "'alle'",
        "should be 'all' or a list",
    ),
    mistake(
        lambda d: d.update(digest={"room": "net", "every": "daily"}),
        "digest.every",
        "'daily'",
        "should be one of week, month, quarter",
    ),
    # Sizes and counts: the rule says the limit.
    mistake(
        lambda d: municipality(d)["questions"][0].update(options=[{"id": "o", "da": "O"}]),
        "municipalities[0].questions[0].options",
        "[{'id': 'o', 'da': 'O'}]",
        "has 1 item: needs at least 2 items",
    ),
    mistake(
        lambda d: municipality(d).update(
            questions=[{**municipality(d)["questions"][0], "id": f"q{n}"} for n in range(6)]
        ),
        "municipalities[0].questions",
        "[{'id': 'q0', 'text': {'da': 'Hvor har du hørt om chatten…",  # shortened
        "has 6 items: at most 5 items are allowed",
    ),
    mistake(
        lambda d: municipality(d).update(name="H"),
        "municipalities[0].name",
        "'H'",
        "is too short: needs at least 2 characters",
    ),
    mistake(
        lambda d: municipality(d).update(slug="a" * 50),
        "municipalities[0].slug",
        "'" + "a" * 50 + "'",
        "is too long: at most 40 characters (it has 50)",
    ),
    mistake(
        lambda d: d.update(listen={"port": 70000}),
        "listen.port",
        "70000",
        "is too large: at most 65535",
    ),
    mistake(
        lambda d: municipality(d).update(timeouts={"idle_minutes": 1}),
        "municipalities[0].timeouts.idle_minutes",
        "1",
        "is too small: at least 5",
    ),
    mistake(lambda d: d.update(homeservers={}), "homeservers", "{}", "needs at least 1 entry"),
    # The same entry twice: the second is named, and the first.
    mistake(
        lambda d: municipality(d)["counsellors"].append("@anna:halsnaes.dk"),
        "municipalities[0].counsellors[2]",
        "'@anna:halsnaes.dk'",
        "is listed twice (also at [0])",
    ),
    mistake(
        lambda d: municipality(d)["questions"][0]["options"].append(
            {"id": "facebook", "da": "igen"}
        ),
        "municipalities[0].questions[0].options[5].id",
        "'facebook'",
        "is used twice",
    ),
    mistake(
        lambda d: d["municipalities"].append(copy.deepcopy(municipality(d))),
        "municipalities[1].slug",
        "'halsnaes'",
        "is used by two municipalities",
    ),
    # Rules the schema cannot say.
    mistake(
        lambda d: municipality(d).update(homeserver="kbh"),
        "municipalities[0].homeserver",
        "'kbh'",
        "is not one of the homeservers (halsnaes)",
    ),
    mistake(
        lambda d: municipality(d)["opening_hours"]["weekly"].update(monday=["21:00-18:00"]),
        "municipalities[0].opening_hours.weekly.monday[0]",
        "'21:00-18:00'",
        "the end must be after the start",
    ),
    mistake(
        lambda d: municipality(d)["opening_hours"]["exceptions"].update({"2026-02-30": []}),
        "municipalities[0].opening_hours.exceptions.2026-02-30",
        "'2026-02-30'",
        "is not a date",
    ),
    mistake(
        lambda d: municipality(d).update(opening_hours={}),
        "municipalities[0].opening_hours",
        "{}",
        "give always_open: true or weekly hours",
    ),
    mistake(
        lambda d: d.update(network=["kk.dk", "ikke et navn"]),
        "network[1]",
        "'ikke et navn'",
        "is not a Matrix server name",
    ),
    mistake(
        lambda d: municipality(d).update(
            embed_origins=["https://www.halsnaes.dk", "http://ukc.halsnaes.dk"]
        ),
        "municipalities[0].embed_origins[1]",
        "'http://ukc.halsnaes.dk'",
        "is not https",
    ),
    mistake(
        lambda d: municipality(d).update(
            embed_origins=["https://www.halsnaes.dk", "https://www.halsnaes.dk"]
        ),
        "municipalities[0].embed_origins[1]",
        "'https://www.halsnaes.dk'",
        "is listed twice (also at [0])",
    ),
    # Secrets are never shown, not even a wrong one.
    mistake(
        lambda d: d["homeservers"]["halsnaes"]["appservice"].update(as_token="kort"),
        "homeservers.halsnaes.appservice.as_token",
        "(the value is hidden)",
        "too short: put a real, random token here",
    ),
]


@pytest.mark.parametrize(("change", "path", "value", "rule"), MISTAKES)
def test_each_mistake_names_its_key_path_value_and_rule(
    change, path: str, value: str | None, rule: str
) -> None:
    data = valid()
    change(data)
    problems = problems_of(data)
    assert len(problems) == 1, problems
    problem = problems[0]
    # "key.path: value …": the key exactly, then the value as found, then the rule.
    assert problem.startswith(f"{path}: {value or ''}"), problem
    assert rule in problem.removeprefix(f"{path}: {value or ''}"), problem
    assert ADMIN_TOKEN not in problem and "Zq93kLm0PxRt7" not in problem


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key != "not":  # a pattern the value must *not* match has an errorMessage
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


def test_every_pattern_in_the_schema_is_explained_in_words() -> None:
    """A new pattern in the schema needs its plain words in PATTERN_WORDS, or its mistakes
    would be shown as a regular expression."""
    missing = set(_patterns(config_schema())) - set(PATTERN_WORDS)
    assert not missing, f"add these to bots/config/checks.py PATTERN_WORDS: {missing}"


@pytest.mark.skipif(
    "trusted_proxies" not in config_schema()["properties"]["intake"]["properties"],
    reason="the schema has no intake.trusted_proxies yet",
)
def test_a_trusted_proxy_that_is_not_an_address_is_named() -> None:
    data = valid()
    data["intake"] = {"trusted_proxies": ["10.0.0.0/24", "proxy.halsnaes.dk"]}
    assert problems_of(data) == [
        "intake.trusted_proxies[1]: 'proxy.halsnaes.dk' is not an IP address or a network "
        "like '10.0.0.0/24'"
    ]


def test_embedding_sites_on_plain_http_only_for_a_local_test(tmp_path: Path) -> None:
    """A municipality without embed_origins may be framed by nobody else; http:// sites
    are accepted while the chat itself is on http:// (the local demo, the tests)."""
    data = valid()
    municipality(data).pop("embed_origins")
    assert parse_config(data, tmp_path).municipalities[0].embed_origins == ()
    data["public_url"] = "http://127.0.0.1:8080"
    municipality(data)["embed_origins"] = ["http://localhost:8000"]
    assert parse_config(data, tmp_path).municipalities[0].embed_origins == (
        "http://localhost:8000",
    )


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

    # Each problem on a line of its own, whole: key path, the value found, the rule.
    bad_data = valid()
    municipality(bad_data)["questions"][0]["options"] = [{"id": "o", "da": "O"}]
    bad_data["homeservers"]["halsnaes"]["url"] = "matrix.halsnaes.dk"
    bad.write_text(yaml.safe_dump(bad_data, allow_unicode=True, sort_keys=False), "utf-8")
    refused = subprocess.run([UNGECHAT, "check-config", bad], capture_output=True, text=True)
    assert refused.returncode == 2
    lines = refused.stderr.splitlines()
    assert lines == [
        f"{bad}: 2 problems:",
        "  homeservers.halsnaes.url: 'matrix.halsnaes.dk' should be an address starting with "
        "https:// (or http://), without spaces",
        "  municipalities[0].questions[0].options: [{'id': 'o', 'da': 'O'}] has 1 item: "
        "needs at least 2 items",
    ]
    # docs/provisioning.md shows this very output.
    docs = (EXAMPLE.parent.parent / "docs" / "provisioning.md").read_text(encoding="utf-8")
    assert "\n".join(["ungechat.yaml: 2 problems:", *lines[1:]]) in docs


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
