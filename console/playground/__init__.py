"""The playground's tabs, one module each, on the shared :class:`~console.playground.base.PlaygroundPane`."""
