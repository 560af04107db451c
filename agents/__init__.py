"""Faust adapter layer: the app, its tables and thin agents over `pipeline.worker`."""
