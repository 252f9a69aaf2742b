"""Root conftest: pytester drives the plugin's own tests (declared here: pytest reads
``pytest_plugins`` only from the root conftest)."""

pytest_plugins = ("pytester",)
