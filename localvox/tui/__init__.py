"""localvox tui."""
