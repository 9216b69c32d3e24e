"""The decision store: local cache, pinned files, statistics."""
