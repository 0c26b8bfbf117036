"""darsed's Docker Engine API: one module per endpoint group, the server in server.py."""
