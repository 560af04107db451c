"""Versioned reference data shipped with xbmon (negative lists, category taxonomy, country risk).

Only data lives here; `pipeline.reference_files` loads and validates it.
"""
