"""Shared code for the Smallest AI wire protocols (Pulse STT, Lightning TTS).

``protocol`` holds the pure frame/query parsers and builders used by both the cloud
clients (``localvox.asr.pulse``, ``localvox.tts.lightning``) and ``localvox serve``;
``ws`` opens authenticated sockets; ``fallback`` switches to local speech while the
cloud is unreachable.
"""
