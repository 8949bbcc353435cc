"""Drop-ins for metric APIs people already call: :mod:`vocbench.integrations.torchmetrics` (needs torch;
torchmetrics optional). Each submodule imports its framework itself, so ``import vocbench`` never does."""

__all__: list[str] = []
