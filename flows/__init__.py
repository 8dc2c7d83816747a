"""Transport-agnostic conversation flows: inbound events in, replies (data) out."""
