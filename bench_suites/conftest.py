"""Order of the bench suites: the serving load sweep runs after every other test, so its load
(hundreds of requests, warm caches, grown memory) neither warms up nor disturbs what the other
suites measure — the TTFT suite's cold row in particular."""


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name == "test_serving.py")  # stable: the rest keep their order
