"""`make demo`: eventwatch working offline, on sample sites served on 127.0.0.1."""
