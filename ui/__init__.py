"""Presentation shared by the handlers and the scheduler: texts, formatting, keyboards, charts,
images and command menus. Imports loyalty and models, never handlers, scheduler or bot."""
