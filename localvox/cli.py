"""The ``localvox`` command line.

Subcommands are discovered from ``localvox.commands``; each module is tiny at import
time, so ``localvox --help`` never loads ctranslate2, onnxruntime or llama.cpp.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType
from typing import Any, Sequence

from localvox import __version__
from localvox.errors import LocalvoxError

# Flags shared by every command that map onto config keys: flag -> (section, key, type).
CONFIG_FLAGS: dict[str, tuple[str, str, Any]] = {
    "--wake-word": ("wake", "model", str),
    "--asr-model": ("asr", "model", str),
    "--asr": ("asr", "backend", str),
    "--llm": ("llm", "backend", str),
    "--llm-model": ("llm", "model", str),
    "--base-url": ("llm", "base_url", str),
    "--tts": ("tts", "backend", str),
    "--voice": ("tts", "voice", str),
    "--input-device": ("audio", "input_device", str),
    "--output-device": ("audio", "output_device", str),
}


def _command_modules() -> dict[str, ModuleType]:
    import localvox.commands as pkg

    mods: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"localvox.commands.{info.name}")
        mods[mod.NAME] = mod
    return mods


def add_config_flags(p: argparse.ArgumentParser, *, nested: bool = False) -> None:
    """The configuration flags, accepted before or after the command.

    On a command's own parser (``nested``) the defaults are SUPPRESS, so a flag given before
    the command (``localvox --config F transcribe x.wav``) is not overwritten by the
    command parser's default.
    """
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if nested else value

    g = p.add_argument_group("configuration")
    g.add_argument("--config", metavar="FILE", default=default(None),
                   help="extra TOML config file (over the user config)")
    g.add_argument("--set", dest="set_values", metavar="SECTION.KEY=VALUE", action="append",
                   default=default([]), help="override one config key (repeatable)")
    g.add_argument("--no-wake", action="store_true", default=default(False),
                   help="no wake word: listen for any speech (wake.mode=always)")
    for flag, (section, key, _) in CONFIG_FLAGS.items():
        g.add_argument(flag, dest=f"cfg_{section}_{key}", default=default(None),
                       metavar=key.upper(), help=f"sets {section}.{key}")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = argparse.ArgumentParser(
        prog="localvox",
        description="A hands-free voice assistant that runs offline in your terminal. "
                    "With no command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"localvox {__version__}")
    parser.add_argument("--text", "--no-tui", dest="text_mode", action="store_true",
                        help="plain line-based mode instead of the full-screen app")
    parser.add_argument("--input", metavar="WAV", help="use a WAV file as the microphone")
    parser.add_argument("--output", metavar="WAV", help="write speech to a WAV file instead of "
                        "the speaker")
    add_config_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = _command_modules()
    for name, mod in modules.items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        add_config_flags(p, nested=True)
        mod.add_arguments(p)
    return parser, modules


def config_from_args(args: argparse.Namespace) -> Any:
    from localvox.config import load_config, parse_override

    overrides: dict[str, dict[str, Any]] = {}
    for text in getattr(args, "set_values", []) or []:
        section, key, value = parse_override(text)
        overrides.setdefault(section, {})[key] = value
    for flag, (section, key, _) in CONFIG_FLAGS.items():
        value = getattr(args, f"cfg_{section}_{key}", None)
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    if getattr(args, "no_wake", False):
        overrides.setdefault("wake", {})["mode"] = "always"
    return load_config(getattr(args, "config", None), overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        command = args.command or "app"
        if command not in modules:
            parser.error(f"unknown command {command}")
        return int(modules[command].run(args, config) or 0)
    except LocalvoxError as err:
        print(f"localvox: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
