"""The journal's use cases, one module per resource; the routes and the event handlers call
them with a ``Context``."""
