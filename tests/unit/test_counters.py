"""Statistics counters are declared once; -s and --print-stats derive from the table."""

import os
import re

from llmcc.store import counters

PACKAGE = os.path.join(os.path.dirname(__file__), "..", "..", "llmcc")
_INDEX = re.compile(r'counts\[(f?)"([^"]*)"')
_UPDATE = re.compile(r'counts\.update\(\{([^}]*)\}', re.S)


def _keys_in_source():
    for root, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                text = open(os.path.join(root, name), encoding="utf-8").read()
                for f, key in _INDEX.findall(text):
                    yield (key.split("{")[0] if f else key), bool(f)
                for body in _UPDATE.findall(text):
                    for key in re.findall(r'"([^"]+)":', body):
                        yield key, False


def test_every_counter_the_package_records_is_declared():
    seen = list(_keys_in_source())
    assert len(seen) > 20
    for key, is_format in seen:
        c = counters.spec(key)
        assert c is not None, f"undeclared counter {key!r}"
        assert c.family or not is_format, key


def test_report_orders_by_category_and_omits_undeclared_keys():
    values = {"cache hits": 3, "fallback: opt unavailable": 2, "an old counter": 9,
              "bytes -Oz": 100}
    rows = counters.report(values)
    cats = [r[0] for r in rows]
    assert cats == sorted(cats, key=counters.CATEGORIES.index)
    labels = {label: v for _, label, v in rows}
    assert labels["cache hits"] == 3 and labels["fell back to plain clang: opt unavailable"] == 2
    assert "bytes with the first 2 candidates (llmcc bench)" in {
        label for _, label, _ in counters.report({"bytes with k=2": 5})}
    assert "an old counter" not in labels and labels["cache misses"] == 0
    lines = counters.machine_report(values)
    assert "cache hits\t3" in lines and "fallback: opt unavailable\t2" in lines
    assert "cache misses\t0" in lines and not any(ln.startswith("an old") for ln in lines)
