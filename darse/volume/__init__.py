"""Volumes: the local driver's store, and the parsing of -v, --mount and --tmpfs."""
