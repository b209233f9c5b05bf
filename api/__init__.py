"""Inbound HTTP adapters (the POS API). Imports ui, loyalty and models, never bot."""
