"""PortAudio devices through sounddevice: importing it lazily, listing, choosing, probing.

Why apart from the streams (``device``): ``sounddevice`` is imported only inside
functions -- importing it raises ``OSError`` when libportaudio2 is missing -- and that, a
PortAudio failure, or a machine with no devices all become one ``AudioDeviceError`` line
("no sound card found (...); running in text mode") that the CLI and TUI turn into text
mode instead of a crash. ``localvox doctor`` and the settings screen need only this part.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from localvox.audio.base import SAMPLE_RATE
from localvox.errors import AudioDeviceError

if TYPE_CHECKING:
    from localvox.config import Config

Kind = Literal["input", "output"]
TEXT_MODE = "running in text mode"


def import_sounddevice() -> Any:
    """Import sounddevice, mapping every "no audio stack" failure to ``AudioDeviceError``."""
    try:
        return importlib.import_module("sounddevice")
    except OSError:
        raise AudioDeviceError("no sound card found (PortAudio library missing: "
                               f"apt-get install libportaudio2); {TEXT_MODE}") from None
    except ImportError:
        raise AudioDeviceError("no sound card found (sounddevice not installed: "
                               f"pip install sounddevice); {TEXT_MODE}") from None


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    inputs: int
    outputs: int
    default_samplerate: float
    hostapi: str
    is_default_input: bool = False
    is_default_output: bool = False

    def channels(self, kind: Kind) -> int:
        return self.inputs if kind == "input" else self.outputs


def list_devices() -> list[DeviceInfo]:
    """All PortAudio devices (may be empty). Raises ``AudioDeviceError`` if there is no
    audio stack at all (library missing, PortAudio cannot initialise)."""
    sd = import_sounddevice()
    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except Exception as err:  # sounddevice.PortAudioError and friends
        raise AudioDeviceError(f"no sound card found ({first_line(err)}); {TEXT_MODE}") from None
    devices = []
    for i, d in enumerate(raw):
        api = apis[d["hostapi"]]["name"] if d["hostapi"] < len(apis) else "?"
        devices.append(DeviceInfo(i, d["name"], int(d["max_input_channels"]),
                                  int(d["max_output_channels"]),
                                  float(d["default_samplerate"]), api,
                                  i == default_in, i == default_out))
    return devices


def first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def find_device(spec: str | int, kind: Kind) -> DeviceInfo:
    """Pick a device: "" = the system default, "3" or 3 = an index, else a name substring.

    Raises ``AudioDeviceError`` with one line: none at all (text mode), or no match (with
    the names that do exist, so the fix is obvious).
    """
    devices = [d for d in list_devices() if d.channels(kind) > 0]
    if not devices:
        raise AudioDeviceError(f"no sound card found (no {kind} devices); {TEXT_MODE}")
    text = str(spec).strip()
    if text == "":
        for d in devices:
            if d.is_default_input if kind == "input" else d.is_default_output:
                return d
        return devices[0]
    if text.lstrip("-").isdigit():
        index = int(text)
        for d in devices:
            if d.index == index:
                return d
        raise AudioDeviceError(f"[audio] {kind}_device = {text}: no {kind} device with that "
                               f"index (have: {_names(devices)})")
    needle = text.lower()
    for d in devices:
        if needle in d.name.lower():
            return d
    raise AudioDeviceError(f"[audio] {kind}_device = {text!r}: no {kind} device matches "
                           f"(have: {_names(devices)})")


def _names(devices: list[DeviceInfo]) -> str:
    return ", ".join(f"{d.index}: {d.name}" for d in devices[:8])


def probe(config: "Config | None" = None) -> tuple[bool, str]:
    """Is there a usable microphone and speaker? ``(ok, one-line message)``; never raises.

    With a config, the devices named by ``[audio] input_device`` / ``output_device`` are
    the ones checked (a typo there is reported with the names that exist). Used by
    ``localvox doctor`` and to decide on text mode.
    """
    want_in = config.audio.input_device if config is not None else ""
    want_out = config.audio.output_device if config is not None else ""
    try:
        devices = list_devices()
    except AudioDeviceError as err:
        return False, str(err)
    ins = [d for d in devices if d.inputs > 0]
    outs = [d for d in devices if d.outputs > 0]
    if not ins and not outs:
        return False, f"no sound card found (no audio devices); {TEXT_MODE}"
    if not ins:
        return False, f"no microphone found ({len(outs)} output devices only); {TEXT_MODE}"
    if not outs:
        return False, f"no speaker found ({len(ins)} input devices only); replies shown as text"
    try:
        mic = find_device(want_in, "input")
        spk = find_device(want_out, "output")
    except AudioDeviceError as err:
        return False, str(err)
    return True, (f"{len(ins)} input / {len(outs)} output devices; "
                  f"microphone: {mic.name}; speaker: {spk.name}")


def pick_rate(sd: Any, device: DeviceInfo, kind: Kind, channels: int) -> int:
    """16 kHz if the device takes it (no resampling), else its native rate."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=device.index, samplerate=SAMPLE_RATE, channels=channels, dtype="float32")
        return SAMPLE_RATE
    except Exception:
        return int(device.default_samplerate)
