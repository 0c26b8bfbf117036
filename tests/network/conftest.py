from tests.api.conftest import darsed  # noqa: F401 - the same darsed fixture
