"""A property-based fuzz of the intake, as an attacker would try it: every operation of
`schemas/intake-openapi.yaml`, with bodies, parameters and headers generated from it by
schemathesis (valid and deliberately invalid), sent to the live intake of the `stack`
fixture (a real bot on a real Synapse), without a token, with another conversation's
token and with a valid one; and what other websites can make a visitor's browser send.

Every answer must be one the OpenAPI file documents (status, content type, body), never
a 5xx; a refused request creates nothing (the bot's database holds exactly the
conversations whose start was answered 201); and `/healthz` stays fast throughout.

The default run keeps to about a minute (25 examples per operation and kind of data);
the full run (UNGECHAT_FULL=1, docs/reliability.md) tries 250, and
UNGECHAT_FUZZ_EXAMPLES sets any other number. The number of requests sent and the
statuses seen are written to test-artifacts/fuzz.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from schemas import SCHEMA_DIR
from tests.intake_helpers import conversation_ids, embedding
from tests.matrix_helpers import Youth
from tests.stack_fixture import Stack

pytestmark = pytest.mark.synapse

EXAMPLES = int(
    os.environ.get("UNGECHAT_FUZZ_EXAMPLES", "250" if os.environ.get("UNGECHAT_FULL") else "25")
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
HEALTHY_SECONDS = 1.0
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
SCHOOL = "https://www.testby-ungdomsskole.dk"  # testby's own site, for the run


@dataclass
class Intake:
    """The live intake as the fuzz meets it (from a worker thread, with `requests`)."""

    base: str
    schema: Any
    http: requests.Session = field(default_factory=requests.Session)
    started: list[tuple[str, str]] = field(default_factory=list)  # (conversation, token)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, case: Any) -> requests.Response:
        """Send a generated case and check the answer against the OpenAPI file."""
        kwargs = case.as_transport_kwargs(base_url=self.base)
        response = self.http.request(**kwargs, stream=True, timeout=30, allow_redirects=False)
        with contextlib.closing(response):
            label = f"{case.method} {case.operation.path}"
            with self.lock:
                self.statuses.setdefault(label, set()).add(response.status_code)
                self.sent += 1
            if response.headers.get("Content-Type", "").startswith("text/event-stream"):
                # A stream runs until the conversation ends: its answer is the 200 itself.
                assert response.status_code == 200, label
                return response
            response.content  # noqa: B018 (read it all)
            case.validate_response(response, checks=CHECKS)
            if case.operation.path == "/conversations" and response.status_code == 201:
                body = response.json()
                with self.lock:
                    self.started.append((body["conversation"], body["token"]))
            return response


def fuzz(strategy: st.SearchStrategy[Any], test: Callable[[Any], None], examples: int) -> None:
    """Run `test` on `examples` cases from `strategy` (hypothesis shrinks a failure)."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        test(case)

    run()


@contextlib.asynccontextmanager
async def health_watch(stack: Stack) -> AsyncIterator[list[float]]:
    """`/healthz` asked every half second while the block runs; how long each took."""
    took: list[float] = []

    async def ask(http: aiohttp.ClientSession) -> None:
        began = time.monotonic()
        async with http.get(f"{stack.intake}/healthz") as r:
            assert r.status == 200
        took.append(time.monotonic() - began)

    async def watch(http: aiohttp.ClientSession) -> None:
        while True:
            await ask(http)
            await asyncio.sleep(0.5)

    async with aiohttp.ClientSession() as http:
        task = asyncio.create_task(watch(http))
        try:
            yield took
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ask(http)  # and right after
    assert max(took) < HEALTHY_SECONDS, took


@pytest.fixture
async def intake(stack: Stack) -> AsyncIterator[Intake]:
    schema = schemathesis.openapi.from_path(str(SCHEMA_DIR / "intake-openapi.yaml"))
    fuzzed = Intake(f"{stack.intake}/api/v1", schema)
    before = await conversation_ids(stack)
    try:
        yield fuzzed
        # A refused request creates nothing: exactly the 201s are new.
        assert await conversation_ids(stack) - before == {c for c, _ in fuzzed.started}
    finally:
        fuzzed.http.close()
        async with aiohttp.ClientSession() as http:
            for conversation, token in fuzzed.started:
                await Youth(stack.intake, http, conversation, token).end()
    seen = {k: sorted(v) for k, v in sorted(fuzzed.statuses.items())}
    print(f"{fuzzed.sent} requests; statuses seen:", seen)
    record_run(fuzzed.sent, seen)


def record_run(sent: int, statuses: dict[str, list[int]]) -> None:
    """Added up over the tests of a run, for docs/reliability.md."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "fuzz.json"
    run = json.loads(path.read_text()) if path.exists() else {}
    if run.get("pid") != os.getpid():  # a new run starts the count again
        run = {"pid": os.getpid(), "examples": EXAMPLES, "requests": 0, "statuses": {}}
    run["requests"] += sent
    for label, codes in statuses.items():
        run["statuses"][label] = sorted({*run["statuses"].get(label, []), *codes})
    path.write_text(json.dumps(run, indent=2) + "\n")


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


async def test_every_operation_without_a_valid_token(stack: Stack, intake: Intake) -> None:
    """Anyone on the internet: no token, a made-up one, or another conversation's."""
    async with aiohttp.ClientSession() as http:
        other = await Youth(stack.intake, http).start("testby")
        victim = await Youth(stack.intake, http).start("testby")
    intake.started += [(other.conversation, other.token), (victim.conversation, victim.token)]
    tokens = st.sampled_from([None, "Bearer made-up", f"Bearer {other.token}", "Basic eA=="])
    for op in operations(intake.schema):
        for mode in GenerationMode:
            cases = op.as_strategy(generation_mode=mode)
            if "{conversation}" in op.path:  # random ids, and the victim's
                on_victim = {"conversation": victim.conversation}
                cases |= op.as_strategy(generation_mode=mode, path_parameters=on_victim)
            if "{slug}" in op.path:  # random names, and real ones (open and closed)
                for slug in ("testby", "lukketby"):
                    real = {"slug": slug}
                    cases |= op.as_strategy(generation_mode=mode, path_parameters=real)

            def attempt(data: tuple[Any, str | None], path: str = op.path) -> None:
                case, auth = data
                headers = dict(case.headers or {})
                headers.pop("Authorization", None)
                if auth is not None:
                    headers["Authorization"] = auth
                case.headers = headers
                response = intake.call(case)
                if "{conversation}" in path:  # no way into anyone's conversation
                    assert response.status_code >= 400, response.text

            async with health_watch(stack):
                await asyncio.to_thread(fuzz, st.tuples(cases, tokens), attempt, EXAMPLES)
    # The victim's conversation is untouched by all of it.
    conv = await stack.bot.repo.get(victim.conversation)
    assert conv is not None and conv.ended_by is None


async def test_every_operation_with_a_valid_token(stack: Stack, intake: Intake) -> None:
    """A youth's own browser, or a script with the youth's token: whatever it sends about
    its own conversation gets a documented answer, and the conversation ends last."""
    async with aiohttp.ClientSession() as http:
        youth = await Youth(stack.intake, http).start("testby")
    intake.started.append((youth.conversation, youth.token))
    own = {"conversation": youth.conversation}
    auth = {"Authorization": f"Bearer {youth.token}"}
    ops = [op for op in operations(intake.schema) if "{conversation}" in op.path]
    ops.sort(key=lambda op: op.path.endswith("/end"))  # ending comes last
    for op in ops:
        # With the id and the token fixed, a call without a body has nothing left to get
        # wrong (the stream's Last-Event-ID may be any text): valid data only.
        modes = (
            list(GenerationMode)
            if op.get_request_payload_content_types()
            else [GenerationMode.POSITIVE]
        )
        for mode in modes:
            cases = op.as_strategy(generation_mode=mode, path_parameters=own, headers=auth)

            def attempt(case: Any) -> None:
                response = intake.call(case)
                # The token opens its own conversation (a malformed header aside).
                if case.headers.get("Authorization") == auth["Authorization"]:
                    assert response.status_code not in (401, 403), response.text

            async with health_watch(stack):
                await asyncio.to_thread(fuzz, cases, attempt, EXAMPLES)


# What another website can make a visitor's browser send, and what the page itself sends.
SITES = {
    "the page": {"Sec-Fetch-Site": "same-origin"},
    "the page, old browser": {"Origin": "{public_url}"},
    "no browser": {},
    "testby's own site": {"Origin": SCHOOL, "Sec-Fetch-Site": "cross-site"},
    "another site": {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    "a sister site": {"Origin": "https://ung.example", "Sec-Fetch-Site": "same-site"},
    "a sandboxed frame": {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    "a cross-site form": {"Sec-Fetch-Site": "cross-site"},
}
FOREIGN = {"another site", "a sister site", "a sandboxed frame", "a cross-site form"}
TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    None,
]


async def test_what_other_websites_make_a_browser_send_starts_nothing(
    stack: Stack, intake: Intake
) -> None:
    """A start that would succeed from the page itself, sent as other sites can make a
    visitor's browser send it: refused (403 from another site, 415 when not JSON), and
    nothing starts. From the page, a script or the municipality's own site it starts."""
    op = intake.schema["/conversations"]["POST"]
    public_url = stack.config.public_url

    @st.composite
    def starts(draw: st.DrawFn) -> tuple[str, Any]:
        site = draw(st.sampled_from(sorted(SITES)))
        content_type = draw(st.sampled_from(TYPES))
        body = {
            "kommune": draw(st.sampled_from(["testby", "nordby"])),
            "kanal": draw(st.sampled_from([None, "plakat", "facebook", "til-maja"])),
        }
        headers = {k: v.format(public_url=public_url) for k, v in SITES[site].items()}
        case = op.Case(body=body, headers=headers, media_type="application/json")
        return site, (case, content_type)

    def attempt(drawn: tuple[str, Any]) -> None:
        site, (case, content_type) = drawn
        kwargs = case.as_transport_kwargs(base_url=intake.base)
        data = json.dumps(kwargs.pop("json")).encode()
        headers = {k: v for k, v in kwargs.pop("headers").items() if k != "Content-Type"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = intake.http.post(kwargs["url"], data=data, headers=headers, timeout=30)
        answer = response.json()
        if site in FOREIGN:
            assert (response.status_code, answer["errcode"]) == (403, "M_FORBIDDEN"), site
        elif content_type is None or not content_type.startswith("application/json"):
            assert (response.status_code, answer["errcode"]) == (415, "M_NOT_JSON"), site
        else:
            assert response.status_code == 201, (site, answer)
            with intake.lock:
                intake.started.append((answer["conversation"], answer["token"]))
        case.validate_response(response, checks=CHECKS)

    with embedding(stack, "testby", SCHOOL):
        async with health_watch(stack):
            await asyncio.to_thread(fuzz, starts(), attempt, max(EXAMPLES * 3, 30))
