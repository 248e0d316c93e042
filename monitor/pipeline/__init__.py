"""Jobs that combine the layers: ingest, detect, export, the demo."""
