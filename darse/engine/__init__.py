"""The engine: containers, their state and lifecycle, over images, runtime and shim."""
