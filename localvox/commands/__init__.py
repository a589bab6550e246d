"""CLI subcommands, one module each.

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args, config) -> int``. It must import nothing heavy at module level: ``localvox
--help`` imports every command module to list them.
"""
