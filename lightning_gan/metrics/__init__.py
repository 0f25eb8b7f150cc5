"""torchmetrics Metrics and feature networks that measure GANs (FID/KID features, mode coverage)."""
