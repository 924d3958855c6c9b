"""Fixtures shared by the tests: a real Synapse (`synapse`), and the bot running against
it (`stack`, `http`)."""

pytest_plugins = ["tests.synapse_fixture", "tests.stack_fixture", "tests.db_fixture"]
