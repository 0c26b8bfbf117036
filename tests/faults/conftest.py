"""The fault and load tests share tests/api's daemon fixtures: a darsed of their own."""

from tests.api.conftest import darsed, docker  # noqa: F401 - fixtures
