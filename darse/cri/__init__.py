"""darse as a Kubernetes node runtime: the CRI v1 gRPC services, served by darsed
(`darsed --cri`) over the engine's stores and shim (docs/design.md says why there)."""

DEFAULT_SOCKET = "/run/darse/cri.sock"
