"""``smallestai.atoms.agent.server``: ``AtomsApp(setup_handler=on_start).run()``."""

from localvox.agent.app import App as AtomsApp

__all__ = ["AtomsApp"]
