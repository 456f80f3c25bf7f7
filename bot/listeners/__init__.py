"""What the bolt app listens to, grouped by kind; each module has its ``register(app)``."""
