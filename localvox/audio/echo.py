"""Echo cancellation as seen from the audio package (``localvox doctor`` imports from here).

The implementation lives in :mod:`localvox.echo`; this module re-exports its public API.
"""

from localvox.echo.canceller import EchoCanceller, EchoState, create
from localvox.echo.measure import EchoPath, analyse_echo_path, chirp, measure_echo_path

__all__ = ["EchoCanceller", "EchoState", "create", "EchoPath", "analyse_echo_path", "chirp",
           "measure_echo_path"]
