"""Grafana dashboards as code (grafana-foundation-sdk), their SQL and generated JSON.

`python -m dashboards` (or `xbmon dashboards build`) regenerates `dashboards/json/`.
"""
