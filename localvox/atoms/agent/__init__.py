"""``localvox.atoms.agent``: the Atoms SDK's ``smallestai.atoms.agent`` package names."""
