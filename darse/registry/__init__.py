"""darse's own registry: the OCI distribution spec v1.1, served by `darse registry serve`.

storage (blobs, repository links, manifests, tags, the referrers index) and sessions (uploads
in progress) keep everything on disk under one root; manifests says what a manifest
references; auth checks htpasswd users and darse's own bearer tokens; gc collects unreferenced
blobs and abandoned uploads; routes/ holds the HTTP handlers, one module per endpoint group;
server assembles them into an aiohttp application and serve runs it.
"""
