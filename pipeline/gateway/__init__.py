"""The enterprise ingestion gateway: authenticated HTTP in front of the `transfer.logs` topic."""
