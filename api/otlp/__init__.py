"""OpenTelemetry ingest: OTLP/HTTP decoding (protobuf and JSON) and the span → event mapping."""
