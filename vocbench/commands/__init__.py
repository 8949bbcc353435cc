"""CLI subcommands: one module each with ``register(subparsers)``; handlers stay thin (parse → library → print)."""
