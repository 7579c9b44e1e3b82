"""Shared fixtures. Each real component the tests need lives in its own module under support/."""

pytest_plugins = [
    "tests.support.home",
    "tests.support.postgres",
    "tests.support.s3",
    "tests.support.server",
    "tests.support.keyring",
    "tests.support.desktop",
    "tests.support.wayland",
    "tests.support.kwin",
    "tests.support.browser",
    "tests.support.session_bus",
    "tests.support.weston",
    "tests.support.gnome",
    "tests.support.chromium",
    "tests.support.chromium_sway",
]
