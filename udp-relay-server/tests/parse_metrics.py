"""Parses a metrics exposition from stdin with the Prometheus project's own Python parsers
and prints its families as JSON, for tests/metrics.rs.

    parse_metrics.py openmetrics|prometheus < exposition

openmetrics: prometheus_client.openmetrics.parser (strict OpenMetrics 1.0, `# EOF` required);
prometheus: prometheus_client.parser (the text format 0.0.4). Any parse error exits non-zero.
"""
import json
import sys

fmt = sys.argv[1]
text = sys.stdin.read()
if fmt == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
elif fmt == "prometheus":
    from prometheus_client.parser import text_string_to_metric_families
else:
    sys.exit(f"unknown format {fmt!r}")

families = []
for family in text_string_to_metric_families(text):
    families.append({
        "name": family.name,
        "type": family.type,
        "samples": [
            {"name": s.name, "labels": dict(s.labels), "value": s.value}
            for s in family.samples
        ],
    })
json.dump(families, sys.stdout)
