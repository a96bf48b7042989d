"""The `tucker-onnx` command line: one thin module per subcommand."""
