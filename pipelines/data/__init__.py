"""Reading the source: data windows, SQL sources, the ingest into immutable snapshots, and data profiles."""
