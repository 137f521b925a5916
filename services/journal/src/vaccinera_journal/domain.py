"""Pure domain rules of this service, free of I/O. Its rules arrive with its own issue."""
