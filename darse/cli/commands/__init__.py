"""One module per command family: container, image, system."""
