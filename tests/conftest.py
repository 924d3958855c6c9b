"""Fixtures shared by the tests: a real Synapse (`synapse`), the bot running against
it (`stack`, `http`), and a federating network of three Synapses (`federation`)."""

pytest_plugins = [
    "tests.synapse_fixture",
    "tests.stack_fixture",
    "tests.db_fixture",
    "tests.federation_fixture",
    "tests.network_fixture",
    "tests.browser_fixture",
    "tests.bot_process",
]
