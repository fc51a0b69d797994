"""Sub-commands of `sts`, one module each, each with `register(subparsers)`."""
