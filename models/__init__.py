"""Tables, engine/session setup and data access. Imports nothing else of Regulars."""

from models.tables import AuditLog, ProcessedUpdate, Role, Staff, Store, TelegramUser

__all__ = ["AuditLog", "ProcessedUpdate", "Role", "Staff", "Store", "TelegramUser"]
