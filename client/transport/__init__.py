"""How the client reaches a model server: TF Serving's REST API (`rest`) or its gRPC API (`grpc`, the optional
`grpc` extra). client.core keeps the logic (labels, signatures, batches, bisecting, partial results) once and asks
a `Transport` (client.transport.base) for status, metadata and predictions; each transport maps its own failures
to client.errors' classes, so the same answer raises the same class on both."""
