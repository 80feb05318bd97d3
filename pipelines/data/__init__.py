"""Reading the source: data windows, SQL sources, the ingest into immutable snapshots, and data profiles.

Modules: windows, sources, sql_text, source_errors, adbc_url, adbc_query, adbc_window, arrow_normaliser,
arrow_digest, arrow_days, frame_days, day_files, day_fingerprints, day_ledger, snapshot, snapshot_parts,
snapshot_store, snapshot_reader, row_groups, ingest, profile, profile_parts.
"""
