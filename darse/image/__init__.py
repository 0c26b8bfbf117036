"""Images: root filesystems and, later, the content store and registry client."""
