"""The console's screens: one module (and one stylesheet) per screen."""
