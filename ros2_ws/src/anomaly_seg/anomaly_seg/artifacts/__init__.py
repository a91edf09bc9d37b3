"""Model artifact tools (export and CLIs only): golden sets, parity, ONNX checks, TensorRT op support."""
