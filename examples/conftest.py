"""Examples: tests marked ``explicit_only`` run only when named on the command line."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "explicit_only: runs only when its node id is given explicitly")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    named = [arg for arg in config.args if "::" in arg]
    keep, skip = [], []
    for item in items:
        explicit = any(arg.endswith("::" + item.name) for arg in named)
        (skip if item.get_closest_marker("explicit_only") and not explicit else keep).append(item)
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = keep
