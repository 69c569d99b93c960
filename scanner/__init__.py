"""leakscan: find personal data in government information-disclosure material."""

__version__ = "0.1.0"
