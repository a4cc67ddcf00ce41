"""Routes, one module per API area."""
