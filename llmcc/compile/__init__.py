"""The compile path: command-line classification, toolchain, candidates, driver."""
