"""darse-shim, the supervisor of containers (server), and darsed's client of it."""
