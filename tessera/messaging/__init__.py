"""Messaging intelligence: parsers for WhatsApp and Telegram sources, returning records."""
