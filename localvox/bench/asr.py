"""``localvox bench asr DIR``: word error rate and speed of the ASR, streaming vs offline.

For every WAV in DIR with a ``.txt`` transcript beside it (``scripts/make_eval_set.py``
makes a varied set; DIR may also be its root, holding ``asr/``), and for each model
(``--models``, default tiny.en and base), three decodes of the same audio with the same
loaded model:

* ``stream``: what the voice loop does -- 32 ms frames fed to ``Transcriber.stream()``,
  ``partial()`` asked after every frame (it decodes every ``partial_interval_ms``), then
  ``finish()``. Its "final" column is the wall time of ``finish()`` alone: what the user
  waits for after the endpoint.
* ``windowed``: one whole-clip decode with the encoder window sized to the audio.
* ``plain``: faster-whisper's ordinary ``WhisperModel.transcribe`` (30 s window), the
  offline reference.

WER is corpus-level after Whisper-style normalisation (``bench.common.normalize_english``).
RTF is decode wall time / audio time (all decodes of the stream path included). The
stream must not be worse than ``plain`` by more than 5 % relative: the verdict is printed
and stored in the JSON. ``--plot`` draws WER per path and per voice group, and the
per-clip decode time distribution.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

NAME = "asr"
HELP = "word error rate and real-time factor: streaming vs windowed vs plain faster-whisper"

DEFAULT_MODELS = "whisper_tiny_en,whisper_base"
PATHS = ("stream", "windowed", "plain")
MAX_RELATIVE_LOSS = 0.05


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", default=None,
                   help="folder of WAV + .txt pairs (default: the set made by "
                        "scripts/make_eval_set.py in the user cache)")
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help=f"comma-separated model ids or paths (default {DEFAULT_MODELS})")
    p.add_argument("--limit", type=int, default=0, help="only the first N clips")
    p.add_argument("--frame-ms", type=int, default=32, help="stream frame size (default 32)")
    p.add_argument("--verbose", "-v", action="store_true", help="print every clip's errors")
    p.add_argument("--bias", choices=["none", "assistant", "barista"], default="none",
                   help="decode with a tool vocabulary prompt: the default assistant's "
                        "(built-in tools + wake word) or the barista example's")


def find_clips(directory: str | Path | None) -> list[dict[str, Any]]:
    """WAV files with a transcript beside them, plus manifest metadata where present."""
    from localvox.errors import LocalvoxError

    if directory is None:
        from localvox.config import xdg_dir

        directory = xdg_dir("cache") / "eval"
    d = Path(directory)
    if (d / "asr").is_dir():
        d = d / "asr"
    if not d.is_dir():
        raise LocalvoxError(f"{d}: no such folder; make one with "
                            "`.venv/bin/python scripts/make_eval_set.py`")
    meta: dict[str, dict[str, Any]] = {}
    if (d / "manifest.json").is_file():
        for row in json.loads((d / "manifest.json").read_text(encoding="utf-8")):
            meta[row["file"]] = row
    clips = []
    wavs = sorted(d.glob("*.wav")) or sorted(d.rglob("*.wav"))  # asr/ljspeech, asr/arctic
    for wav in wavs:
        txt = wav.with_suffix(".txt")
        if not txt.is_file():
            continue
        row = dict(meta.get(wav.name, {}))
        row.update(file=wav.name, path=str(wav), text=txt.read_text(encoding="utf-8").strip())
        if wav.parent != d and "engine" not in row:
            row["engine"] = wav.parent.name  # the folder names the voices (ljspeech, arctic)
        clips.append(row)
    if not clips:
        raise LocalvoxError(f"{d}: no WAV files with a .txt transcript beside them")
    return clips


def group_of(clip: dict[str, Any]) -> str:
    """Voice/noise group for the breakdown: e.g. "piper clean", "espeak noisy"."""
    engine = clip.get("engine") or "unknown"
    noise = "clean" if clip.get("snr_db") is None else "noisy"
    return f"{engine} {noise}" if clip.get("engine") else "all"


def bias_for(kind: str, config: Any) -> Any:
    """The vocabulary a session of that agent gives the recogniser (None for none)."""
    if kind == "none":
        return None
    from localvox.agent.vocab import tool_vocabulary

    if kind == "barista":
        from localvox.examples.barista import BaristaAgent, vocabulary

        return vocabulary(BaristaAgent(llm=None), wake_word=config.wake.model)
    from localvox.agent.builtin_tools import BuiltinTools
    from localvox.agent.tools import ToolRegistry

    reg = ToolRegistry()
    reg.discover(BuiltinTools(config))
    return tool_vocabulary(reg.get_schemas(), wake_word=config.wake.model)


def load_transcriber(model: str, config: Any) -> Any:
    from localvox.asr.whisper import WhisperTranscriber
    from localvox.modelpacks import resolve_model

    a = config.asr
    return WhisperTranscriber(resolve_model(model, config), compute_type=a.compute_type,
                              threads=a.threads, beam_size=a.beam_size, language=a.language,
                              windowed=True, partial_interval_ms=a.partial_interval_ms)


async def decode_stream(t: Any, audio: Any, frame: int) -> tuple[str, float, float, int]:
    """(text, total decode wall time, finish wall time, number of decodes)."""
    stream = t.stream()
    busy = 0.0
    for i in range(0, len(audio), frame):
        await stream.feed(audio[i:i + frame])
        t0 = time.perf_counter()
        await stream.partial()
        busy += time.perf_counter() - t0
    t0 = time.perf_counter()
    final = await stream.finish()
    fin = time.perf_counter() - t0
    return final.text, busy + fin, fin, int(getattr(stream, "decodes", 0))


def decode_plain(t: Any, audio: Any) -> tuple[str, float]:
    """faster-whisper's own offline path, same model object, same beam and language
    (and the same vocabulary prompt, if any)."""
    t0 = time.perf_counter()
    prompt = list(t.prompt.tokens) if getattr(t, "prompt", None) and t.prompt.tokens else None
    segments, _ = t.model.transcribe(audio, language=t.language, beam_size=t.beam_size,
                                     vad_filter=False, condition_on_previous_text=False,
                                     initial_prompt=prompt)
    text = " ".join(s.text.strip() for s in segments).strip()
    return text, time.perf_counter() - t0


async def bench_model(model: str, clips: list[dict[str, Any]], config: Any, frame_ms: int,
                      verbose: bool, bias: Any = None) -> dict[str, Any]:
    from localvox.audio.base import SAMPLE_RATE
    from localvox.audio.wav import read_wav
    from localvox.bench.common import normalize_english, wer

    t0 = time.perf_counter()
    t = load_transcriber(model, config)
    load_s = time.perf_counter() - t0
    t.set_bias(bias)
    if t.prompt.text:
        print(f"  prompt ({len(t.prompt.tokens)} tokens): {t.prompt.text}")
    t.decode(read_wav(clips[0]["path"]))  # warm-up: first CTranslate2 call is slow
    frame = SAMPLE_RATE * frame_ms // 1000
    rows = []
    for clip in clips:
        audio = read_wav(clip["path"])
        audio_s = len(audio) / SAMPLE_RATE
        s_text, s_time, s_fin, s_dec = await decode_stream(t, audio, frame)
        w = await asyncio.to_thread(t.decode, audio, windowed=True)
        p_text, p_time = await asyncio.to_thread(decode_plain, t, audio)
        row = {"file": clip["file"], "group": group_of(clip), "ref": clip["text"],
               "audio_s": audio_s,
               "stream": {"text": s_text, "decode_s": s_time, "finish_s": s_fin,
                          "decodes": s_dec},
               "windowed": {"text": w.text, "decode_s": w.decode_s, "path": w.path,
                            "window_s": w.window_s},
               "plain": {"text": p_text, "decode_s": p_time}}
        rows.append(row)
        if verbose:
            ref = normalize_english(clip["text"])
            for path in PATHS:
                hyp = normalize_english(row[path]["text"])
                if hyp != ref:
                    print(f"  {model} {path:8s} {clip['file']}: {hyp!r} (ref {ref!r})")
    audio_total = sum(r["audio_s"] for r in rows)
    summary: dict[str, Any] = {"model": model, "clips": len(rows), "audio_s": audio_total,
                               "load_s": load_s, "paths": {}, "groups": {}}
    for path in PATHS:
        w = wer([r["ref"] for r in rows], [r[path]["text"] for r in rows])
        decode = sum(r[path]["decode_s"] for r in rows)
        summary["paths"][path] = {**w, "decode_s": decode, "rtf": decode / audio_total}
    summary["paths"]["stream"]["finish_mean_s"] = \
        sum(r["stream"]["finish_s"] for r in rows) / len(rows)
    summary["paths"]["stream"]["decodes_per_clip"] = \
        sum(r["stream"]["decodes"] for r in rows) / len(rows)
    summary["paths"]["windowed"]["fallbacks"] = \
        sum(r["windowed"]["path"] != "windowed" for r in rows)
    for g in sorted({r["group"] for r in rows}):
        sub = [r for r in rows if r["group"] == g]
        summary["groups"][g] = {
            "clips": len(sub),
            **{path: wer([r["ref"] for r in sub], [r[path]["text"] for r in sub])["wer"]
               for path in PATHS}}
    s_wer, p_wer = summary["paths"]["stream"]["wer"], summary["paths"]["plain"]["wer"]
    rel = (s_wer - p_wer) / p_wer if p_wer > 0 else (0.0 if s_wer == 0 else float("inf"))
    summary["stream_vs_plain_relative"] = rel
    summary["stream_ok"] = s_wer <= p_wer * (1 + MAX_RELATIVE_LOSS) + 1e-12
    summary["rows"] = rows
    return summary


def print_report(results: list[dict[str, Any]]) -> None:
    from localvox.bench.common import table

    rows = []
    for r in results:
        for path in PATHS:
            p = r["paths"][path]
            extra = ""
            if path == "stream":
                extra = (f"final {1000 * p['finish_mean_s']:.0f} ms, "
                         f"{p['decodes_per_clip']:.1f} decodes/clip")
            elif path == "windowed":
                extra = f"{p['fallbacks']} fell back to plain"
            rows.append([r["model"], path, f"{100 * p['wer']:.2f}%", p["words"],
                         p["substitutions"], p["deletions"], p["insertions"],
                         f"{p['rtf']:.3f}", extra])
    print(table(["model", "path", "WER", "words", "sub", "del", "ins", "RTF", "notes"], rows,
                title=f"ASR word error rate ({results[0]['clips']} clips, "
                      f"{results[0]['audio_s']:.0f} s of audio)"))
    groups = sorted({g for r in results for g in r["groups"]})
    if len(groups) > 1:
        grows = []
        for r in results:
            for g in groups:
                if g in r["groups"]:
                    x = r["groups"][g]
                    grows.append([r["model"], g, x["clips"]] +
                                 [f"{100 * x[p]:.1f}%" for p in PATHS])
        print()
        print(table(["model", "group", "clips", "stream", "windowed", "plain"], grows,
                    title="WER by voice and noise"))
    print()
    for r in results:
        verdict = "PASS" if r["stream_ok"] else "FAIL"
        rel = r["stream_vs_plain_relative"]
        rel_s = "n/a" if rel == float("inf") else f"{100 * rel:+.1f}%"
        print(f"{verdict}: {r['model']} stream WER {100 * r['paths']['stream']['wer']:.2f}% vs "
              f"plain {100 * r['paths']['plain']['wer']:.2f}% ({rel_s} relative; "
              f"limit +{100 * MAX_RELATIVE_LOSS:.0f}%)")


def plot(results: list[dict[str, Any]], out: str) -> None:
    from localvox.bench.common import figure, save_figure

    fig, ax = figure(1, 3, size=(15, 4.5))
    a0, a1, a2 = ax[0]
    width = 0.8 / len(PATHS)
    for i, path in enumerate(PATHS):
        xs = [j + i * width for j in range(len(results))]
        a0.bar(xs, [100 * r["paths"][path]["wer"] for r in results], width, label=path)
    a0.set_xticks([j + width for j in range(len(results))], [r["model"] for r in results])
    a0.set_ylabel("WER %")
    a0.set_title("word error rate by decode path")
    a0.legend()
    data, labels = [], []
    for r in results:
        for path in PATHS:
            data.append([1000 * row[path]["decode_s"] for row in r["rows"]])
            labels.append(f"{r['model'].replace('whisper_', '')}\n{path}")
    a1.boxplot(data, showfliers=True)
    a1.set_xticks(range(1, len(labels) + 1), labels)
    a1.set_ylabel("decode wall time per clip (ms)")
    a1.set_title("decode time distribution (stream: all partials + final)")
    a1.tick_params(axis="x", labelsize=7)
    groups = sorted({g for r in results for g in r["groups"]})
    width = 0.8 / max(1, len(results))
    for i, r in enumerate(results):
        xs = [j + i * width for j in range(len(groups))]
        a2.bar(xs, [100 * r["groups"].get(g, {}).get("stream", 0) for g in groups], width,
               label=f"{r['model']} stream")
    a2.set_xticks([j + width * (len(results) - 1) / 2 for j in range(len(groups))], groups,
                  fontsize=8)
    a2.set_ylabel("WER %")
    a2.set_title("streaming WER by voice / noise")
    a2.legend(fontsize=8)
    save_figure(fig, out)


def run(args: argparse.Namespace, config: Any) -> int:
    from localvox.bench.common import write_json

    clips = find_clips(args.dir)
    if args.limit:
        clips = clips[: args.limit]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    results = []
    for model in models:
        print(f"decoding {len(clips)} clips with {model} ...", flush=True)
        results.append(asyncio.run(bench_model(model, clips, config, args.frame_ms,
                                               args.verbose, bias_for(args.bias, config))))
    print()
    print_report(results)
    write_json(args.json, {"bench": "asr", "frame_ms": args.frame_ms, "bias": args.bias,
                           "threads": config.asr.threads, "compute_type": config.asr.compute_type,
                           "beam_size": config.asr.beam_size, "results": results})
    if args.plot:
        plot(results, args.plot)
    return 0 if all(r["stream_ok"] for r in results) else 1
