"""docker build: the Dockerfile, and the builder that runs it over the engine."""
