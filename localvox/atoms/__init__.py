"""The Atoms SDK's import paths over localvox's one SDK (``localvox.agent``).

Code written for Smallest AI's Atoms SDK runs with only its imports changed::

    from smallestai.atoms.agent.nodes import OutputAgentNode   # before
    from localvox.atoms.agent.nodes import OutputAgentNode     # after

Every name here is an alias of (or a keyword adapter over) the localvox class that does
the work; nothing is implemented twice. ``AtomsApp(setup_handler=on_start).run()`` runs
the agent in the speech loop, the TUI, line mode or over WebSocket, like ``localvox``.
"""
