"""Physics models: one module per physics, each with ``Params`` and ``run``.

Importing a model without DOLFINx raises an ImportError naming both install paths.
"""
