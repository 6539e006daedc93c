"""hashsets."""
