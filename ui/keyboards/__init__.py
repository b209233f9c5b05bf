"""Every inline keyboard and its CallbackData, one module per journey."""
