"""Reading the source: data windows, SQL sources, the ingest into immutable snapshots, and data profiles.

Modules: windows, sources, source_errors, adbc_url, adbc_query, adbc_window, arrow_normaliser, arrow_digest,
snapshot, ingest, profile.
"""
