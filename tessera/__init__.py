"""Tessera: triage, messaging intelligence and hash-only sharing for CSEM investigations."""

__version__ = "0.1.0"
